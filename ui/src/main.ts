import { mount } from 'svelte';
import './styles/tokens.css';
import './styles/base.css';
import App from './App.svelte';
import { applyRememberedFont, rememberFont } from './lib/util/fonts';

performance.mark('sportello:script');
applyRememberedFont();
const app = mount(App, { target: document.getElementById('app')! });
// Well after the first paint: which font to use on the next start.
setTimeout(rememberFont, 3000);

export default app;
