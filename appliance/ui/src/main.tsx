import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { SessionProvider } from './session.tsx';
import { App } from './App.tsx';
import './style.css';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <SessionProvider><App /></SessionProvider>
  </StrictMode>,
);
