import { mount } from 'svelte';
import './styles/tokens.css';
import './styles/base.css';
import App from './App.svelte';

performance.mark('sportello:script');
const app = mount(App, { target: document.getElementById('app')! });

export default app;
