// Owns: mounting the Preact app into #app and loading the stylesheet.
import { render } from 'preact';
import { App } from './app';
import './style.css';

render(<App />, document.getElementById('app')!);
