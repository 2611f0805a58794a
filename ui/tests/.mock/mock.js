(function() {
	/**
	* Sends a message to the backend.
	* @example
	* ```typescript
	* import { invoke } from '@tauri-apps/api/core';
	* await invoke('login', { user: 'tauri', password: 'poiwe3h4r5ip3yrhtew9ty' });
	* ```
	*
	* @param cmd The command name.
	* @param args The optional arguments to pass to the command.
	* @param options The request options.
	* @return A promise resolving or rejecting to the backend response.
	*
	* @since 1.0.0
	*/
	async function invoke(cmd, args = {}, options) {
		return window.__TAURI_INTERNALS__.invoke(cmd, args, options);
	}
	// node_modules/@tauri-apps/api/event.js
	/**
	* The event system allows you to emit events to the backend and listen to events from it.
	*
	* This package is also accessible with `window.__TAURI__.event` when [`app.withGlobalTauri`](https://v2.tauri.app/reference/config/#withglobaltauri) in `tauri.conf.json` is set to `true`.
	*
	* @remarks All commands used by this module (`core:event:allow-listen`,
	* `allow-unlisten`, `allow-emit` and `allow-emit-to`) are part of the
	* `core:event:default` permission set, which is enabled by default, so no extra
	* capability configuration is needed.
	*
	* @module
	*/
	/**
	* The built-in event names emitted by Tauri itself.
	*
	* These are the raw names behind the `on*` helpers of the `Window` and `Webview`
	* classes (e.g. `Window.onResized` listens to {@linkcode TauriEvent.WINDOW_RESIZED}).
	* Prefer those helpers when one exists, since they also decode the payload into
	* the matching class (`PhysicalSize`, `PhysicalPosition`, ...).
	*
	* @example
	* ```typescript
	* import { listen, TauriEvent } from '@tauri-apps/api/event';
	* const unlisten = await listen(TauriEvent.WINDOW_DESTROYED, (event) => {
	*   console.log('a window was destroyed', event.payload);
	* });
	* ```
	*
	* @since 1.1.0
	*/
	var TauriEvent;
	(function(TauriEvent) {
		/** A window was resized. Payload: the new inner size, in physical pixels. See `Window.onResized`. */
		TauriEvent["WINDOW_RESIZED"] = "tauri://resize";
		/** A window was moved. Payload: the new outer position, in physical pixels. See `Window.onMoved`. */
		TauriEvent["WINDOW_MOVED"] = "tauri://move";
		/**
		* The user requested a window to be closed (e.g. clicked the close button).
		* See `Window.onCloseRequested`, which also handles preventing the close.
		*/
		TauriEvent["WINDOW_CLOSE_REQUESTED"] = "tauri://close-requested";
		/** A window was destroyed, i.e. it is gone and its label can be reused. */
		TauriEvent["WINDOW_DESTROYED"] = "tauri://destroyed";
		/** A window gained focus. See `Window.onFocusChanged`. */
		TauriEvent["WINDOW_FOCUS"] = "tauri://focus";
		/** A window lost focus. See `Window.onFocusChanged`. */
		TauriEvent["WINDOW_BLUR"] = "tauri://blur";
		/**
		* The scale factor of the monitor a window is on changed, or the window moved to
		* a monitor with a different scale factor. See `Window.onScaleChanged`.
		*/
		TauriEvent["WINDOW_SCALE_FACTOR_CHANGED"] = "tauri://scale-change";
		/** The system or window theme changed. See `Window.onThemeChanged`. */
		TauriEvent["WINDOW_THEME_CHANGED"] = "tauri://theme-changed";
		/** A new window was created. */
		TauriEvent["WINDOW_CREATED"] = "tauri://window-created";
		/**
		* The window's event loop was suspended.
		*
		* #### Platform-specific
		*
		* - **Android:** emitted when the activity is paused.
		* - **Other platforms:** never emitted.
		*/
		TauriEvent["WINDOW_SUSPENDED"] = "tauri://suspended";
		/**
		* The window's event loop was resumed after being suspended.
		*
		* #### Platform-specific
		*
		* - **Android:** emitted when the activity is resumed.
		* - **Other platforms:** never emitted.
		*/
		TauriEvent["WINDOW_RESUMED"] = "tauri://resumed";
		/** A new webview was created. */
		TauriEvent["WEBVIEW_CREATED"] = "tauri://webview-created";
		/** The user dragged files onto a webview. See `Webview.onDragDropEvent`. */
		TauriEvent["DRAG_ENTER"] = "tauri://drag-enter";
		/** The user is moving dragged files over a webview. See `Webview.onDragDropEvent`. */
		TauriEvent["DRAG_OVER"] = "tauri://drag-over";
		/** The user dropped files onto a webview. See `Webview.onDragDropEvent`. */
		TauriEvent["DRAG_DROP"] = "tauri://drag-drop";
		/** The drag operation left the webview or was cancelled. See `Webview.onDragDropEvent`. */
		TauriEvent["DRAG_LEAVE"] = "tauri://drag-leave";
	})(TauriEvent || (TauriEvent = {}));
	/**
	* Emits an event to all {@link EventTarget|targets}.
	*
	* @example
	* ```typescript
	* import { emit } from '@tauri-apps/api/event';
	* await emit('frontend-loaded', { loggedIn: true, token: 'authToken' });
	* ```
	*
	* @param event Event name. Must include only alphanumeric characters, `-`, `/`, `:` and `_`.
	* @param payload Event payload.
	*
	* @since 1.0.0
	*/
	async function emit(event, payload) {
		await invoke("plugin:event|emit", {
			event,
			payload
		});
	}
	// node_modules/@tauri-apps/api/mocks.js
	function mockInternals() {
		var _a, _b;
		window.__TAURI_INTERNALS__ = (_a = window.__TAURI_INTERNALS__) !== null && _a !== void 0 ? _a : {};
		window.__TAURI_EVENT_PLUGIN_INTERNALS__ = (_b = window.__TAURI_EVENT_PLUGIN_INTERNALS__) !== null && _b !== void 0 ? _b : {};
	}
	/**
	* Intercepts all IPC requests with the given mock handler.
	*
	* This function can be used when testing tauri frontend applications or when running the frontend in a Node.js context during static site generation.
	*
	* # Examples
	*
	* Testing setup using Vitest:
	* ```ts
	* import { mockIPC, clearMocks } from "@tauri-apps/api/mocks"
	* import { invoke } from "@tauri-apps/api/core"
	*
	* afterEach(() => {
	*    clearMocks()
	* })
	*
	* test("mocked command", () => {
	*  mockIPC((cmd, payload) => {
	*   switch (cmd) {
	*     case "add":
	*       return (payload.a as number) + (payload.b as number);
	*     default:
	*       break;
	*     }
	*  });
	*
	*  expect(invoke('add', { a: 12, b: 15 })).resolves.toBe(27);
	* })
	* ```
	*
	* The callback function can also return a Promise:
	* ```js
	* import { mockIPC, clearMocks } from "@tauri-apps/api/mocks"
	* import { invoke } from "@tauri-apps/api/core"
	*
	* afterEach(() => {
	*    clearMocks()
	* })
	*
	* test("mocked command", () => {
	*  mockIPC((cmd, payload) => {
	*   if(cmd === "get_data") {
	*    return fetch("https://example.com/data.json")
	*      .then((response) => response.json())
	*   }
	*  });
	*
	*  expect(invoke('get_data')).resolves.toBe({ foo: 'bar' });
	* })
	* ```
	*
	* `listen` can also be mocked with direct calls to the `emit` function. This functionality is opt-in via the `shouldMockEvents` option:
	* ```js
	* import { mockIPC, clearMocks } from "@tauri-apps/api/mocks"
	* import { emit, listen } from "@tauri-apps/api/event"
	*
	* afterEach(() => {
	*    clearMocks()
	* })
	*
	* test("mocked event", () => {
	*  mockIPC(() => {}, { shouldMockEvents: true }); // enable event mocking
	*
	*  const eventHandler = vi.fn();
	*  listen('test-event', eventHandler); // typically in component setup or similar
	*
	*  emit('test-event', { foo: 'bar' });
	*  expect(eventHandler).toHaveBeenCalledWith({
	*    event: 'test-event',
	*    id: expect.any(Number),
	*    payload: { foo: 'bar' }
	*  });
	* })
	* ```
	* `emitTo` is currently **not** supported by this mock implementation.
	*
	* @since 1.0.0
	*/
	function mockIPC(cb, options) {
		mockInternals();
		function isEventPluginInvoke(cmd) {
			return cmd.startsWith("plugin:event|");
		}
		function handleEventPlugin(cmd, args) {
			switch (cmd) {
				case "plugin:event|listen": return handleListen(args);
				case "plugin:event|emit": return handleEmit(args);
				case "plugin:event|unlisten": return handleRemoveListener(args);
			}
		}
		const listeners = /* @__PURE__ */ new Map();
		function handleListen(args) {
			if (!listeners.has(args.event)) listeners.set(args.event, []);
			listeners.get(args.event).push(args.handler);
			return args.handler;
		}
		function handleEmit(args) {
			const eventListeners = listeners.get(args.event) || [];
			for (const handler of [...eventListeners]) runCallback(handler, {
				...args,
				id: handler
			});
			return null;
		}
		function handleRemoveListener(args) {
			const eventListeners = listeners.get(args.event);
			if (eventListeners) {
				const index = eventListeners.indexOf(args.eventId);
				if (index !== -1) eventListeners.splice(index, 1);
			}
		}
		async function invoke(cmd, args, _options) {
			if ((options === null || options === void 0 ? void 0 : options.shouldMockEvents) && isEventPluginInvoke(cmd)) return handleEventPlugin(cmd, args);
			return cb(cmd, args);
		}
		const callbacks = /* @__PURE__ */ new Map();
		function registerCallback(callback, once = false) {
			const identifier = window.crypto.getRandomValues(/* @__PURE__ */ new Uint32Array(1))[0];
			callbacks.set(identifier, (data) => {
				if (once) unregisterCallback(identifier);
				return callback && callback(data);
			});
			return identifier;
		}
		function unregisterCallback(id) {
			callbacks.delete(id);
		}
		function runCallback(id, data) {
			const callback = callbacks.get(id);
			if (callback) callback(data);
			else console.warn(`[TAURI] Couldn't find callback id ${id}. This might happen when the app is reloaded while Rust is running an asynchronous operation.`);
		}
		function unregisterListener(event, id) {
			unregisterCallback(id);
		}
		window.__TAURI_INTERNALS__.invoke = invoke;
		window.__TAURI_INTERNALS__.transformCallback = registerCallback;
		window.__TAURI_INTERNALS__.unregisterCallback = unregisterCallback;
		window.__TAURI_INTERNALS__.runCallback = runCallback;
		window.__TAURI_INTERNALS__.callbacks = callbacks;
		window.__TAURI_EVENT_PLUGIN_INTERNALS__.unregisterListener = unregisterListener;
	}
	/**
	* Mocks one or many window labels.
	* In non-tauri context it is required to call this function *before* using the `@tauri-apps/api/window` module.
	*
	* This function only mocks the *presence* of windows,
	* window properties (e.g. width and height) can be mocked like regular IPC calls using the `mockIPC` function.
	*
	* # Examples
	*
	* ```js
	* import { mockWindows } from "@tauri-apps/api/mocks";
	* import { getCurrentWindow } from "@tauri-apps/api/window";
	*
	* mockWindows("main", "second", "third");
	*
	* const win = getCurrentWindow();
	*
	* win.label // "main"
	* ```
	*
	* ```js
	* import { mockWindows } from "@tauri-apps/api/mocks";
	*
	* mockWindows("main", "second", "third");
	*
	* mockIPC((cmd, args) => {
	*  if (cmd === "plugin:event|emit") {
	*    console.log('emit event', args?.event, args?.payload);
	*  }
	* });
	*
	* const { emit } = await import("@tauri-apps/api/event");
	* await emit('loaded'); // this will cause the mocked IPC handler to log to the console.
	* ```
	*
	* @param current Label of window this JavaScript context is running in.
	*
	* @since 1.0.0
	*/
	function mockWindows(current, ..._additionalWindows) {
		mockInternals();
		window.__TAURI_INTERNALS__.metadata = {
			currentWindow: { label: current },
			currentWebview: {
				windowLabel: current,
				label: current
			}
		};
	}
	// tests/mock/backend.ts
	var MINUTE = 6e4;
	var FIRST = [
		"Giulia",
		"Marco",
		"Francesca",
		"Luca",
		"Chiara",
		"Alessandro",
		"Sara",
		"Matteo",
		"Elena",
		"Davide",
		"Martina",
		"Simone",
		"Anna",
		"Paolo",
		"Valentina"
	];
	var LAST = [
		"Bianchi",
		"Rossi",
		"Esposito",
		"Romano",
		"Colombo",
		"Ricci",
		"Marino",
		"Greco",
		"Bruno",
		"Gallo",
		"Conti",
		"De Luca",
		"Costa",
		"Giordano",
		"Mancini",
		"Rizzo",
		"Lombardi"
	];
	var SUBJECTS = [
		"Ordine non ancora arrivato",
		"Domanda su una taglia",
		"Reso di un articolo",
		"Fattura per il mio ordine",
		"Disponibilità del colore blu",
		"Spedizione in Svizzera?",
		"Pagamento non riuscito",
		"Confezione regalo"
	];
	var PREVIEWS = [
		"Buongiorno, il mio ordine risulta spedito da una settimana ma non è ancora arrivato.",
		"Ciao! La taglia M della giacca veste regolare o è meglio prendere una L?",
		"Vorrei fare il reso delle scarpe, sono troppo strette. Come devo fare?",
		"Mi servirebbe la fattura intestata alla mia ditta, posso mandarti i dati?",
		"Avete ancora la borsa in blu? Sul sito la vedo esaurita.",
		"Spedite anche in Svizzera? Quanto costa la spedizione?",
		"Ho provato a pagare con la carta ma mi dà errore, potete aiutarmi?",
		"È possibile avere una confezione regalo con un biglietto?"
	];
	var REPLIES = [
		"Ciao! Ti rispondo subito: ",
		"Buongiorno, grazie del messaggio. ",
		"Certo! "
	];
	function channelFor(id) {
		const cycle = [
			"email",
			"email",
			"whatsapp",
			"email",
			"instagram",
			"email",
			"messenger",
			"telegram"
		];
		return cycle[id % cycle.length];
	}
	function accountFor(channel) {
		switch (channel) {
			case "whatsapp": return {
				id: 4,
				name: "WhatsApp Bottega"
			};
			case "instagram":
			case "messenger":
			case "telegram": return {
				id: 1,
				name: "Bottega"
			};
			default: return {
				id: 1,
				name: "Bottega"
			};
		}
	}
	function nameFor(id) {
		return `${FIRST[id % FIRST.length]} ${LAST[id * 7 % LAST.length]}`;
	}
	function createBackend(config, emit) {
		const now = Date.now();
		const count = config.conversations ?? (config.accounts === "none" ? 0 : 60);
		const idle = (minutesAgo) => ({
			state: "idle",
			last_sync_at: now - minutesAgo * MINUTE,
			last_error: null,
			progress: null
		});
		const demoAccounts = [
			{
				id: 1,
				kind: "email",
				name: "Bottega",
				address: "ciao@bottega.example",
				settings: {},
				enabled: true,
				created_at: now - 129600 * MINUTE,
				status: idle(2)
			},
			{
				id: 2,
				kind: "email",
				name: "Ordini",
				address: "ordini@bottega.example",
				settings: {},
				enabled: true,
				created_at: now - MINUTE,
				status: {
					state: "syncing",
					last_sync_at: null,
					last_error: null,
					progress: {
						done: 1234,
						total: 5e3
					}
				}
			},
			{
				id: 3,
				kind: "email",
				name: "Vecchia casella",
				address: "info@bottega.example",
				settings: {},
				enabled: true,
				created_at: now - 576e3 * MINUTE,
				status: {
					state: "needs_attention",
					last_sync_at: now - 4320 * MINUTE,
					last_error: {
						code: "auth_failed",
						message: "AUTHENTICATIONFAILED Authentication failed."
					},
					progress: null
				}
			},
			{
				id: 4,
				kind: "whatsapp",
				name: "WhatsApp Bottega",
				address: "+39 333 123 4567",
				settings: {},
				enabled: true,
				created_at: now - 43200 * MINUTE,
				status: {
					state: "offline",
					last_sync_at: now - 40 * MINUTE,
					last_error: {
						code: "network",
						message: "connection timed out"
					},
					progress: null
				}
			}
		];
		const store = {
			accounts: config.accounts === "none" ? [] : demoAccounts,
			settings: {
				locale: "auto",
				notifications: true,
				remote_content_senders: [],
				...config.settings
			},
			info: {
				version: "0.1.0",
				os_locale: config.osLocale ?? "it-IT",
				data_dir: "/home/utente/.local/share/sportello"
			},
			order: Array.from({ length: count }, (_, i) => i + 1),
			summaries: /* @__PURE__ */ new Map(),
			threads: /* @__PURE__ */ new Map(),
			nextMessageId: 1e7,
			nextAccountId: 10
		};
		const calls = [];
		const failures = /* @__PURE__ */ new Map();
		function synthSummary(id) {
			const channel = channelFor(id);
			const account = accountFor(channel);
			const name = nameFor(id);
			const outbound = id % 6 === 0;
			const lastAt = now - (id - 1) * 37 * MINUTE - id % 5 * MINUTE;
			const handle = channel === "email" ? `${name.toLowerCase().replace(/[^a-z]+/g, ".")}@example.com` : channel === "whatsapp" ? `+39 3${String(1e8 + id * 7919).slice(0, 9)}` : `@${name.toLowerCase().replace(/[^a-z]+/g, "_")}`;
			return {
				id,
				account_id: account.id,
				account_name: account.name,
				channel,
				contact_id: id,
				contact_name: name,
				contact_handle: handle,
				subject: channel === "email" ? SUBJECTS[id % SUBJECTS.length] : "",
				status: "open",
				unread_count: id % 5 === 1 ? id % 3 + 1 : 0,
				message_count: outbound ? 2 : 1,
				last_message_at: lastAt,
				last_preview: outbound ? `${REPLIES[id % REPLIES.length]}ti aggiorno appena ho notizie.` : PREVIEWS[id % PREVIEWS.length],
				last_direction: outbound ? "outbound" : "inbound",
				waiting_since: outbound || id % 4 === 0 ? null : lastAt
			};
		}
		function summary(id) {
			return store.summaries.get(id) ?? synthSummary(id);
		}
		function message(conv, partial) {
			return {
				id: store.nextMessageId++,
				conversation_id: conv.id,
				account_id: conv.account_id,
				direction: "inbound",
				external_id: `<m${store.nextMessageId}@example.com>`,
				sender_name: conv.contact_name,
				sender_handle: conv.contact_handle,
				recipients: ["ciao@bottega.example"],
				subject: conv.subject,
				text: "",
				html: null,
				has_remote_content: false,
				sent_at: conv.last_message_at,
				delivery: "received",
				delivery_error: null,
				is_read: conv.unread_count === 0,
				parse_error: null,
				has_raw: true,
				attachments: [],
				...partial
			};
		}
		function attachment(id, filename, mime, size) {
			return {
				id,
				filename,
				mime_type: mime,
				size,
				content_hash: "abc",
				content_id: null,
				inline: false
			};
		}
		/** The thread of a conversation: built once from its id, then kept and changed. */
		function thread(id) {
			const existing = store.threads.get(id);
			if (existing) return existing;
			const conv = summary(id);
			const messages = [];
			if (id === 1) messages.push(message(conv, {
				text: "Buongiorno, ho ordinato la borsa in pelle il 2 marzo. Mi sapete dire quando arriva?",
				sent_at: conv.last_message_at - 1560 * MINUTE,
				is_read: true
			}), message(conv, {
				direction: "outbound",
				sender_name: "Bottega",
				sender_handle: "ciao@bottega.example",
				recipients: [conv.contact_handle],
				text: "Ciao Giulia! È partita ieri con BRT, ti mando il tracciamento.",
				sent_at: conv.last_message_at - 1500 * MINUTE,
				delivery: "sent",
				is_read: true
			}), message(conv, {
				text: "Grazie! Allego la foto del pacco: è arrivato rovinato. Vedi anche la fattura.",
				html: "<div style=\"font-family:Georgia,serif\"><p>Grazie! Allego la <b>foto del pacco</b>: è arrivato rovinato.</p><p><img src=\"https://images.example.com/pacco.png\" alt=\"Foto del pacco\" width=\"240\" height=\"120\"></p><p>Vedi anche la fattura.</p><blockquote>Ciao Giulia! È partita ieri con BRT.</blockquote></div>",
				has_remote_content: true,
				attachments: [attachment(501, "fattura-1042.pdf", "application/pdf", 245812), attachment(502, "pacco.jpg", "image/jpeg", 1834221)]
			}));
			else if (id === 2) messages.push(message(conv, {
				text: "",
				parse_error: "malformed MIME header at line 3",
				has_raw: true
			}));
			else {
				const first = PREVIEWS[id % PREVIEWS.length];
				if (conv.last_direction === "outbound") messages.push(message(conv, {
					text: first,
					sent_at: conv.last_message_at - 50 * MINUTE,
					is_read: true
				}), message(conv, {
					direction: "outbound",
					sender_name: conv.account_name,
					sender_handle: "ciao@bottega.example",
					text: conv.last_preview,
					delivery: "sent",
					is_read: true
				}));
				else messages.push(message(conv, { text: conv.last_preview }));
			}
			const detail = {
				conversation: conv,
				messages,
				contact: {
					id,
					display_name: conv.contact_name,
					identities: [{
						kind: conv.channel === "email" ? "email" : conv.channel,
						value: conv.contact_handle,
						display_name: conv.contact_name
					}],
					first_seen_at: now - 288e3 * MINUTE,
					last_contact_at: conv.last_message_at
				}
			};
			store.threads.set(id, detail);
			return detail;
		}
		function change(partial) {
			const payload = {
				conversations: [],
				accounts: [],
				inbound: [],
				summaries: [],
				...partial
			};
			setTimeout(() => emit("sportello://changes", payload), 0);
		}
		function touch(id, patch, moveToTop) {
			const next = {
				...summary(id),
				...patch
			};
			store.summaries.set(id, next);
			const detail = store.threads.get(id);
			if (detail) store.threads.set(id, {
				...detail,
				conversation: next
			});
			if (moveToTop) {
				const at = store.order.indexOf(id);
				if (at > 0) {
					store.order.splice(at, 1);
					store.order.unshift(id);
				}
			}
		}
		function findMessage(messageId) {
			for (const detail of store.threads.values()) {
				const m = detail.messages.find((x) => x.id === messageId);
				if (m) return m;
			}
		}
		function setDelivery(messageId, delivery, error = null) {
			for (const [id, detail] of store.threads) if (detail.messages.some((m) => m.id === messageId)) {
				store.threads.set(id, {
					...detail,
					messages: detail.messages.map((m) => m.id === messageId ? {
						...m,
						delivery,
						delivery_error: error
					} : m)
				});
				change({ conversations: [id] });
				return true;
			}
			return false;
		}
		function snippetAround(text, query) {
			const at = text.toLowerCase().indexOf(query.toLowerCase());
			if (at < 0) return null;
			const start = Math.max(0, at - 30);
			const end = Math.min(text.length, at + query.length + 50);
			return (start > 0 ? "…" : "") + text.slice(start, at) + "" + text.slice(at, at + query.length) + "" + text.slice(at + query.length, end) + (end < text.length ? "…" : "");
		}
		const handlers = {
			app_info: () => store.info,
			get_settings: () => store.settings,
			update_settings: (a) => {
				store.settings = { ...a.settings };
				return store.settings;
			},
			list_accounts: () => store.accounts,
			test_email_account: () => null,
			add_email_account: (a) => {
				const input = a.input;
				const account = {
					id: store.nextAccountId++,
					kind: "email",
					name: input.name,
					address: input.address,
					settings: {
						imap_host: input.imap_host,
						smtp_host: input.smtp_host
					},
					enabled: true,
					created_at: Date.now(),
					status: {
						state: "syncing",
						last_sync_at: null,
						last_error: null,
						progress: {
							done: 0,
							total: 120
						}
					}
				};
				store.accounts = [...store.accounts, account];
				change({ accounts: [account.id] });
				return account;
			},
			remove_account: (a) => {
				store.accounts = store.accounts.filter((x) => x.id !== a.accountId);
				change({ accounts: [a.accountId] });
				return null;
			},
			refresh: (a) => {
				const ids = a.accountId === null ? store.accounts.map((x) => x.id) : [a.accountId];
				const set = (state) => {
					store.accounts = store.accounts.map((x) => ids.includes(x.id) && x.status.state !== "needs_attention" ? {
						...x,
						status: {
							...x.status,
							state,
							last_sync_at: state === "idle" ? Date.now() : x.status.last_sync_at,
							progress: null
						}
					} : x);
					change({ accounts: ids });
				};
				set("syncing");
				setTimeout(() => set("idle"), 800);
				return null;
			},
			list_conversations: (a) => {
				const offset = a.offset;
				const limit = a.limit;
				return {
					total: store.order.length,
					items: store.order.slice(offset, offset + limit).map(summary)
				};
			},
			get_conversation: (a) => {
				const id = a.conversationId;
				if (id < 1 || !store.order.includes(id)) throw {
					code: "not_found",
					message: `conversation ${id}`
				};
				return thread(id);
			},
			mark_read: (a) => {
				const id = a.conversationId;
				const detail = thread(id);
				store.threads.set(id, {
					...detail,
					messages: detail.messages.map((m) => ({
						...m,
						is_read: true
					}))
				});
				touch(id, { unread_count: 0 }, false);
				change({ conversations: [id] });
				return null;
			},
			send_reply: (a) => {
				const id = a.conversationId;
				const detail = thread(id);
				const conv = detail.conversation;
				const sent = message(conv, {
					direction: "outbound",
					sender_name: conv.account_name,
					sender_handle: "ciao@bottega.example",
					recipients: [conv.contact_handle],
					text: a.text,
					sent_at: Date.now(),
					delivery: "queued",
					is_read: true,
					has_raw: false
				});
				store.threads.set(id, {
					...detail,
					messages: [...detail.messages, sent]
				});
				touch(id, {
					last_preview: sent.text,
					last_direction: "outbound",
					last_message_at: sent.sent_at,
					waiting_since: null,
					message_count: conv.message_count + 1
				}, true);
				change({ conversations: [id] });
				if (config.autoDeliver) setTimeout(() => setDelivery(sent.id, "sent"), 1200);
				return sent;
			},
			retry_message: (a) => {
				const found = findMessage(a.messageId);
				if (!found) throw {
					code: "not_found",
					message: "message"
				};
				setDelivery(found.id, "queued");
				if (config.autoDeliver) setTimeout(() => setDelivery(found.id, "sent"), 1200);
				return null;
			},
			search: (a) => {
				const query = String(a.query).trim();
				const hits = [];
				for (const id of store.order.slice(0, 300)) {
					for (const m of thread(id).messages) {
						const snippet = snippetAround(m.text, query);
						if (snippet) {
							const conv = summary(id);
							hits.push({
								message_id: m.id,
								conversation_id: id,
								channel: conv.channel,
								contact_name: conv.contact_name,
								subject: conv.subject,
								snippet,
								sent_at: m.sent_at
							});
						}
					}
					if (hits.length >= 50) break;
				}
				return hits;
			},
			open_attachment: () => null,
			save_attachment: (a) => {
				for (const detail of store.threads.values()) for (const m of detail.messages) {
					const found = m.attachments.find((x) => x.id === a.attachmentId);
					if (found) return `/home/utente/Scaricati/${found.filename}`;
				}
				throw {
					code: "not_found",
					message: "attachment"
				};
			},
			message_source: (a) => `Return-Path: <cliente@example.com>\nFrom: =?broken?= <cliente@example.com>\nSubject: ???\n\nmessage ${a.messageId}: the raw source as stored.`
		};
		async function handle(cmd, args = {}) {
			calls.push({
				cmd,
				args
			});
			const delay = config.delays?.[cmd];
			if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
			const failure = failures.get(cmd);
			if (failure) {
				failures.delete(cmd);
				throw failure;
			}
			const handler = handlers[cmd];
			if (!handler) throw {
				code: "internal",
				message: `mock: unknown command ${cmd}`
			};
			return structuredClone(handler(args));
		}
		return {
			handle,
			controls: {
				calls,
				/** The next call of `cmd` rejects with `error`. */
				failNext(cmd, error) {
					failures.set(cmd, error);
				},
				setDelivery,
				emitChange: (partial) => change(partial),
				summaryAt: (index) => summary(store.order[index]),
				/** The newest outbound message of a conversation (the reply a test just sent). */
				lastOutbound(conversationId) {
					return store.threads.get(conversationId)?.messages.filter((m) => m.direction === "outbound").at(-1) ?? null;
				},
				/** A customer writes: new inbound message, row to the top, change event. */
				receive(conversationId, text) {
					const detail = thread(conversationId);
					const conv = detail.conversation;
					const m = message(conv, {
						text,
						sent_at: Date.now(),
						is_read: false
					});
					store.threads.set(conversationId, {
						...detail,
						messages: [...detail.messages, m]
					});
					touch(conversationId, {
						last_preview: text,
						last_direction: "inbound",
						last_message_at: m.sent_at,
						unread_count: conv.unread_count + 1,
						waiting_since: conv.waiting_since ?? m.sent_at
					}, true);
					change({
						conversations: [conversationId],
						inbound: [{
							message_id: m.id,
							conversation_id: conversationId,
							channel: conv.channel,
							sender: conv.contact_name,
							preview: text
						}]
					});
				},
				settings: () => store.settings
			}
		};
	}
	var backend = createBackend(window.__SPORTELLO_MOCK_CONFIG__ ?? {}, (event, payload) => void emit(event, payload));
	mockWindows("main");
	mockIPC((cmd, args) => backend.handle(cmd, args), { shouldMockEvents: true });
	window.__sportelloMock = backend.controls;
})();
