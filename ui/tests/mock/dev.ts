// `npm run dev:mock`: the demo data set with replies that get "sent" after a moment.
window.__SPORTELLO_MOCK_CONFIG__ ??= { accounts: 'demo', conversations: 2000, autoDeliver: true };
await import('./inject');
