// The data set of `npm run dev:mock`, set before the fake backend is installed.
window.__SPORTELLO_MOCK_CONFIG__ ??= { accounts: 'demo', conversations: 2000, autoDeliver: true };

export {};
