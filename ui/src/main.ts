import { mount } from 'svelte';
import './styles/tokens.css';
import './styles/base.css';
import App from './App.svelte';
import { setUpFont } from './lib/util/fonts';

performance.mark('sportello:script');
const app = mount(App, { target: document.getElementById('app')! });
// While the first calls are answered.
setUpFont();

export default app;
