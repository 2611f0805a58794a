// `npm run dev:mock`: the demo data set with replies that get "sent" after a moment.
// Imports run in order: the config first, then the backend that reads it.
import './dev-config';
import './inject';
