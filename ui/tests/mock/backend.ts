// A fake Sportello backend for UI tests and `npm run dev:mock`: an in-memory data set that
// answers the same commands as the Rust side and emits the same change event. It is built
// into its own script (tests/.mock/mock.js) and never into the app's bundle.

import type {
  Account,
  AccountStatus,
  AppInfo,
  Attachment,
  CannedReply,
  CannedReplyInput,
  CareReport,
  CareSettings,
  Change,
  ChannelKind,
  ChatDetails,
  ConversationDetail,
  ConversationFilter,
  ConversationStatus,
  ConversationSummary,
  Delivery,
  DesktopSettings,
  EmailAccountInput,
  ErrorBody,
  Message,
  MetaInput,
  OAuthAccountInput,
  OAuthClientInput,
  OAuthClientSettings,
  ProviderPreset,
  RenderedTemplate,
  ReplyTemplate,
  ReplyWindow,
  SavedView,
  SearchHit,
  Settings,
  TelegramInput,
  Template,
  TwilioInput,
  View,
  ViewCounts,
  WhatsAppInput,
} from '../../src/lib/ipc/types';
import { createContacts } from './contacts';
export { CONTACT_DEMO } from './contacts';

export type MockConfig = {
  /** 'none' starts like a new install; 'demo' has a few accounts in several states. */
  accounts?: 'none' | 'demo';
  /** How many conversations the unified list holds. */
  conversations?: number;
  settings?: Partial<Settings>;
  osLocale?: string;
  /** Milliseconds before a command answers, per command. */
  delays?: Record<string, number>;
  /** The browser sign-in (email_oauth_sign_in) never comes back: only a cancel ends it. */
  oauthWaits?: boolean;
  /** Like a database from a newer Sportello: app_info reports it, other commands fail. */
  startupError?: ErrorBody;
  /** Mark sent replies as sent after a moment (for manual use; tests drive it by hand). */
  autoDeliver?: boolean;
  /** What the file picker returns (default: one PDF). */
  pickedFiles?: string[];
  /** Sizes describe_files reports, by path (default: 48 213 bytes). */
  fileSizes?: Record<string, number>;
  desktop?: Partial<DesktopSettings>;
  /** Milliseconds install_update takes before it fails or "restarts" (reloads the page). */
  updateDelay?: number;
  /** Care settings to start with (the response-time target, business hours...). */
  care?: Partial<CareSettings>;
  /** What the save dialog returns (default: a path in Documents; null: cancelled). */
  savePath?: string | null;
};

export type Emit = (event: string, payload: unknown) => void;

const MINUTE = 60_000;
const FIRST = [
  'Giulia',
  'Marco',
  'Francesca',
  'Luca',
  'Chiara',
  'Alessandro',
  'Sara',
  'Matteo',
  'Elena',
  'Davide',
  'Martina',
  'Simone',
  'Anna',
  'Paolo',
  'Valentina',
];
const LAST = [
  'Bianchi',
  'Rossi',
  'Esposito',
  'Romano',
  'Colombo',
  'Ricci',
  'Marino',
  'Greco',
  'Bruno',
  'Gallo',
  'Conti',
  'De Luca',
  'Costa',
  'Giordano',
  'Mancini',
  'Rizzo',
  'Lombardi',
];
const SUBJECTS = [
  'Ordine non ancora arrivato',
  'Domanda su una taglia',
  'Reso di un articolo',
  'Fattura per il mio ordine',
  'Disponibilità del colore blu',
  'Spedizione in Svizzera?',
  'Pagamento non riuscito',
  'Confezione regalo',
];
const PREVIEWS = [
  'Buongiorno, il mio ordine risulta spedito da una settimana ma non è ancora arrivato.',
  'Ciao! La taglia M della giacca veste regolare o è meglio prendere una L?',
  'Vorrei fare il reso delle scarpe, sono troppo strette. Come devo fare?',
  'Mi servirebbe la fattura intestata alla mia ditta, posso mandarti i dati?',
  'Avete ancora la borsa in blu? Sul sito la vedo esaurita.',
  'Spedite anche in Svizzera? Quanto costa la spedizione?',
  'Ho provato a pagare con la carta ma mi dà errore, potete aiutarmi?',
  'È possibile avere una confezione regalo con un biglietto?',
];
const REPLIES = ['Ciao! Ti rispondo subito: ', 'Buongiorno, grazie del messaggio. ', 'Certo! '];

type Store = {
  accounts: Account[];
  settings: Settings;
  desktop: DesktopSettings;
  /** What the window said it shows (set_viewing). */
  viewing: number | null;
  info: AppInfo;
  /** Conversation ids, newest activity first. */
  order: number[];
  /** Conversations changed since generation (everything else is synthesised from its id). */
  summaries: Map<number, ConversationSummary>;
  threads: Map<number, ConversationDetail>;
  nextMessageId: number;
  nextAccountId: number;
  /** Chat message details by message id (reactions, locations, contacts, stories, templates). */
  details: Map<number, ChatDetails>;
  /** Reply windows set by tests, by conversation id. */
  windows: Map<number, ReplyWindow>;
  canned: CannedReply[];
  care: CareSettings;
  views: SavedView[];
  /** CSV files "written" by export_report_csv, by path. */
  exports: Map<string, { from: number; to: number }>;
  /** The sign-in clients of the settings (set_oauth_client); their secrets apart, as in the
   * keyring: never sent back to the window. */
  oauthClients: OAuthClientSettings[];
  oauthSecrets: Map<string, string>;
};

/** The figures care_report answers with, whatever the period (fixed so tests can read them). */
export const MOCK_REPORT_FIGURES = {
  email: { conversations: 42, median: 35 * MINUTE, p90: 4 * 60 * MINUTE },
  whatsapp: { conversations: 17, median: 8 * MINUTE, p90: 50 * MINUTE },
};

const HOUR = 60 * MINUTE;
const TEMPLATES: Template[] = [
  {
    name: 'ordine_spedito',
    language: 'it',
    status: 'APPROVED',
    category: 'UTILITY',
    body: 'Ciao {{1}}, il tuo ordine {{2}} è partito! Lo ricevi in 2-3 giorni.',
    variables: 2,
  },
  {
    name: 'ci_sei_ancora',
    language: 'it',
    status: 'APPROVED',
    category: 'UTILITY',
    body: 'Ciao! Hai ancora bisogno di aiuto con il tuo ordine?',
    variables: 0,
  },
  {
    name: 'promo_estate',
    language: 'it',
    status: 'PENDING',
    category: 'MARKETING',
    body: 'Saldi estivi!',
    variables: 0,
  },
];

/** Conversation ids with a hand-made chat thread (see `thread`). */
export const CHAT_DEMO = {
  whatsapp: 10,
  whatsappExpired: 18,
  instagram: 4,
  messenger: 6,
  telegram: 7,
};

function channelFor(id: number): ChannelKind {
  const cycle: ChannelKind[] = [
    'email',
    'email',
    'whatsapp',
    'email',
    'instagram',
    'email',
    'messenger',
    'telegram',
  ];
  return cycle[id % cycle.length];
}

function accountFor(channel: ChannelKind): { id: number; name: string } {
  switch (channel) {
    case 'whatsapp':
      return { id: 4, name: 'WhatsApp Bottega' };
    case 'instagram':
    case 'messenger':
    case 'telegram':
      return { id: 1, name: 'Bottega' };
    default:
      return { id: 1, name: 'Bottega' };
  }
}

export function nameFor(id: number): string {
  return `${FIRST[id % FIRST.length]} ${LAST[(id * 7) % LAST.length]}`;
}

export function createBackend(config: MockConfig, emit: Emit) {
  const now = Date.now();
  const count = config.conversations ?? (config.accounts === 'none' ? 0 : 60);
  const idle = (minutesAgo: number): AccountStatus => ({
    state: 'idle',
    last_sync_at: now - minutesAgo * MINUTE,
    last_error: null,
    progress: null,
  });

  const demoAccounts: Account[] = [
    {
      id: 1,
      kind: 'email',
      name: 'Bottega',
      address: 'ciao@bottega.example',
      settings: {},
      enabled: true,
      created_at: now - 90 * 24 * 60 * MINUTE,
      status: idle(2),
    },
    {
      id: 2,
      kind: 'email',
      name: 'Ordini',
      address: 'ordini@bottega.example',
      settings: {},
      enabled: true,
      created_at: now - MINUTE,
      status: {
        state: 'syncing',
        last_sync_at: null,
        last_error: null,
        progress: { done: 1234, total: 5000 },
      },
    },
    {
      id: 3,
      kind: 'email',
      name: 'Vecchia casella',
      address: 'info@bottega.example',
      settings: {},
      enabled: true,
      created_at: now - 400 * 24 * 60 * MINUTE,
      status: {
        state: 'needs_attention',
        last_sync_at: now - 3 * 24 * 60 * MINUTE,
        last_error: { code: 'auth_failed', message: 'AUTHENTICATIONFAILED Authentication failed.' },
        progress: null,
      },
    },
    {
      id: 4,
      kind: 'whatsapp',
      name: 'WhatsApp Bottega',
      address: '+39 333 123 4567',
      settings: {},
      enabled: true,
      created_at: now - 30 * 24 * 60 * MINUTE,
      status: {
        state: 'offline',
        last_sync_at: now - 40 * MINUTE,
        last_error: { code: 'network', message: 'connection timed out' },
        progress: null,
      },
    },
  ];

  const store: Store = {
    accounts: config.accounts === 'none' ? [] : demoAccounts,
    settings: {
      locale: 'auto',
      notifications: true,
      remote_content_senders: [],
      webhook_port: 8787,
      prefer_plain_text: false,
      ...config.settings,
    },
    desktop: {
      close_to_tray: true,
      start_at_login: false,
      check_updates: true,
      sound: true,
      show_preview: true,
      muted_channels: [],
      quiet_hours: null,
      ...config.desktop,
    },
    viewing: null,
    info: {
      version: '0.1.0',
      os_locale: config.osLocale ?? 'it-IT',
      data_dir: '/home/utente/.local/share/sportello',
      startup_error: null,
    },
    order: Array.from({ length: count }, (_, i) => i + 1),
    summaries: new Map(),
    threads: new Map(),
    nextMessageId: 10_000_000,
    nextAccountId: 10,
    details: new Map(),
    windows: new Map(),
    canned: [
      {
        id: 1,
        name: 'Spedizione',
        shortcut: 'spedizione',
        texts: {
          it: 'Ciao {{contact.first_name}}, il tuo ordine è partito oggi.\n{{agent.name}}',
          en: 'Hi {{contact.first_name}}, your order shipped today.\n{{agent.name}}',
        },
        updated_at: 0,
      },
      {
        id: 2,
        name: 'Grazie',
        shortcut: 'grazie',
        texts: { it: 'Grazie {{contact.first_name|di cuore}}, a presto da {{shop.name}}!' },
        updated_at: 0,
      },
    ],
    care: {
      shop_name: 'Bottega',
      agent_name: '',
      default_language: 'it',
      sla_minutes: 60,
      timezone: 'Europe/Rome',
      business_hours: [],
      holidays: [],
      auto_reply: { enabled: false, every_hours: 12, text: 'Ciao, siamo chiusi.', per_channel: [] },
      ...config.care,
    },
    views: [],
    exports: new Map(),
    oauthClients: (['google', 'microsoft'] as const).map((provider) => ({
      provider,
      client_id: '',
      tenant: '',
      has_client_secret: false,
      has_default: provider === 'google',
    })),
    oauthSecrets: new Map(),
  };

  const calls: { cmd: string; args: unknown }[] = [];
  const failures = new Map<string, ErrorBody>();

  function synthSummary(id: number): ConversationSummary {
    const channel = channelFor(id);
    const account = accountFor(channel);
    const name = nameFor(id);
    const outbound = id % 6 === 0;
    const lastAt = now - (id - 1) * 37 * MINUTE - (id % 5) * MINUTE;
    const handle =
      channel === 'email'
        ? `${name.toLowerCase().replace(/[^a-z]+/g, '.')}@example.com`
        : channel === 'whatsapp'
          ? `+39 3${String(100000000 + id * 7919).slice(0, 9)}`
          : `@${name.toLowerCase().replace(/[^a-z]+/g, '_')}`;
    return {
      id,
      account_id: account.id,
      account_name: account.name,
      channel,
      contact_id: id,
      contact_name: name,
      contact_handle: handle,
      subject: channel === 'email' ? SUBJECTS[id % SUBJECTS.length] : '',
      status: 'open',
      unread_count: id % 5 === 1 ? (id % 3) + 1 : 0,
      message_count: outbound ? 2 : 1,
      last_message_at: lastAt,
      last_preview: outbound
        ? `${REPLIES[id % REPLIES.length]}ti aggiorno appena ho notizie.`
        : PREVIEWS[id % PREVIEWS.length],
      last_direction: outbound ? 'outbound' : 'inbound',
      waiting_since: outbound || id % 4 === 0 ? null : lastAt,
    };
  }

  /** The same rules as ConversationFilter's SQL in the core (store/workflow.rs). */
  function matches(c: ConversationSummary, f: ConversationFilter): boolean {
    if (f.view && !inView(c, f.view)) return false;
    if (f.statuses?.length && !f.statuses.includes(c.status ?? 'open')) return false;
    if (f.unread && c.unread_count === 0) return false;
    if (f.waiting && c.waiting_since === null) return false;
    if (f.channel && c.channel !== f.channel) return false;
    if (f.account_id !== undefined && f.account_id !== null && c.account_id !== f.account_id)
      return false;
    if (f.contact_id !== undefined && f.contact_id !== null && c.contact_id !== f.contact_id)
      return false;
    if (f.tag_id !== undefined && f.tag_id !== null && !(c.tag_ids ?? []).includes(f.tag_id))
      return false;
    return true;
  }

  function report(from: number, to: number): CareReport {
    const durations = (count: number, median: number, p90: number) => ({
      count,
      median_ms: median,
      p90_ms: p90,
    });
    const figures = (conversations: number, median: number, p90: number) => ({
      conversations,
      inbound_messages: conversations * 2,
      first_response: durations(conversations - 2, median, p90),
      resolution: durations(conversations - 5, median * 6, p90 * 3),
      unanswered: 2,
    });
    const { email, whatsapp } = MOCK_REPORT_FIGURES;
    const week = 7 * 24 * HOUR;
    const hours = (weekday: number) =>
      Array.from({ length: 24 }, (_, h) =>
        h >= 9 && h < 19 && weekday <= 6
          ? ((h * 7 + weekday * 3) % 11) + (weekday === 1 ? 6 : 0)
          : 0,
      );
    const busiest = Array.from({ length: 7 }, (_, d) => ({ weekday: d + 1, hours: hours(d + 1) }));
    return {
      from,
      to,
      sla_minutes: store.care.sla_minutes,
      within_sla: 40,
      over_sla: 15,
      waiting_now: 9,
      overdue_now: 3,
      total: figures(email.conversations + whatsapp.conversations, 20 * MINUTE, 3 * HOUR),
      channels: [
        { channel: 'email', figures: figures(email.conversations, email.median, email.p90) },
        {
          channel: 'whatsapp',
          figures: figures(whatsapp.conversations, whatsapp.median, whatsapp.p90),
        },
      ],
      weeks: [0, 1, 2, 3].map((i) => ({
        week: `2026-W${45 + i}`,
        starts_at: to - (4 - i) * week,
        figures: figures(12 + i * 3, (40 - i * 8) * MINUTE, (150 - i * 20) * MINUTE),
      })),
      busiest_hours: Array.from({ length: 24 }, (_, hour) => ({
        hour,
        messages: busiest.reduce((n, d) => n + d.hours[hour], 0),
      })),
      busiest_times: busiest,
    };
  }

  function inView(c: ConversationSummary, view: View): boolean {
    switch (view) {
      case 'inbox':
        return c.status === 'open';
      case 'waiting':
        return c.status === 'open' && c.waiting_since !== null;
      case 'pending':
      case 'snoozed':
      case 'closed':
        return c.status === view;
      case 'unread':
        return c.unread_count > 0;
      default:
        return true;
    }
  }

  function summary(id: number): ConversationSummary {
    return store.summaries.get(id) ?? synthSummary(id);
  }

  function message(conv: ConversationSummary, partial: Partial<Message>): Message {
    return {
      id: store.nextMessageId++,
      conversation_id: conv.id,
      account_id: conv.account_id,
      direction: 'inbound',
      external_id: `<m${store.nextMessageId}@example.com>`,
      sender_name: conv.contact_name,
      sender_handle: conv.contact_handle,
      recipients: ['ciao@bottega.example'],
      subject: conv.subject,
      text: '',
      html: null,
      has_remote_content: false,
      sent_at: conv.last_message_at,
      delivery: 'received',
      delivery_error: null,
      is_read: conv.unread_count === 0,
      parse_error: null,
      has_raw: true,
      attachments: [],
      ...partial,
    };
  }

  function attachment(id: number, filename: string, mime: string, size: number): Attachment {
    return {
      id,
      filename,
      mime_type: mime,
      size,
      content_hash: 'abc',
      content_id: null,
      inline: false,
    };
  }

  /** The thread of a conversation: built once from its id, then kept and changed. */
  function thread(id: number): ConversationDetail {
    const existing = store.threads.get(id);
    if (existing) return existing;
    const conv = summary(id);
    const messages: Message[] = [];
    if (id === 1) {
      messages.push(
        message(conv, {
          text: 'Buongiorno, ho ordinato la borsa in pelle il 2 marzo. Mi sapete dire quando arriva?',
          sent_at: conv.last_message_at - 26 * 60 * MINUTE,
          is_read: true,
        }),
        message(conv, {
          direction: 'outbound',
          sender_name: 'Bottega',
          sender_handle: 'ciao@bottega.example',
          recipients: [conv.contact_handle],
          text: `Ciao ${conv.contact_name.split(' ')[0]}! È partita ieri con BRT, ti mando il tracciamento.`,
          sent_at: conv.last_message_at - 25 * 60 * MINUTE,
          delivery: 'sent',
          is_read: true,
        }),
        message(conv, {
          text:
            'Grazie! Allego la foto del pacco: è arrivato rovinato. Vedi anche la fattura.\n\n' +
            'Il giorno lun 2 mar 2026 alle ore 10:00 Bottega <ciao@bottega.example> ha scritto:\n' +
            '> È partita ieri con BRT.',
          // As the core reports it: the text folds from the attribution line, the HTML has
          // Gmail's quote markers.
          fold_line: 2,
          html_folds: true,
          html:
            '<div style="font-family:Georgia,serif"><p>Grazie! Allego la <b>foto del pacco</b>: è arrivato rovinato.</p>' +
            '<p><img src="https://images.example.com/pacco.png" alt="Foto del pacco" width="240" height="120"></p>' +
            '<p>Vedi anche la fattura.</p><div class="gmail_quote"><div class="gmail_attr">Il giorno lun 2 mar 2026 ha scritto:</div>' +
            '<blockquote class="gmail_quote">È partita ieri con BRT.</blockquote></div></div>',
          has_remote_content: true,
          attachments: [
            attachment(501, 'fattura-1042.pdf', 'application/pdf', 245_812),
            attachment(502, 'pacco.jpg', 'image/jpeg', 1_834_221),
          ],
        }),
      );
    } else if (id === CHAT_DEMO.whatsapp) {
      const at = now - 2 * HOUR;
      const m = (partial: Partial<Message>) =>
        message(conv, { sent_at: at, is_read: true, has_raw: false, ...partial });
      const ours = m({
        direction: 'outbound',
        sender_name: conv.account_name,
        text: 'Ciao! Ti mando la ricevuta.',
        delivery: 'read',
        sent_at: at - 30 * MINUTE,
      });
      const reaction = m({ text: '👍' });
      const location = m({ text: '📍 Negozio — https://maps.google.com/?q=45.46,9.19' });
      const contact = m({ text: '👤 Anna Rossi +39 333 1234567' });
      messages.push(
        m({ text: 'Ciao, mi mandi la ricevuta?', sent_at: at - 40 * MINUTE }),
        ours,
        m({
          direction: 'outbound',
          sender_name: conv.account_name,
          text: 'Eccola.',
          delivery: 'delivered',
          sent_at: at - 29 * MINUTE,
        }),
        m({
          direction: 'outbound',
          sender_name: conv.account_name,
          text: 'Arriva domani.',
          delivery: 'sent',
          sent_at: at - 28 * MINUTE,
        }),
        reaction,
        location,
        contact,
        m({
          text: 'Ecco la foto',
          attachments: [
            { ...attachment(601, 'image.jpg', 'image/jpeg', 0), content_hash: null, pending: true },
          ],
        }),
        m({
          text: '',
          attachments: [
            { ...attachment(602, 'voice.ogg', 'audio/ogg', 0), content_hash: null, pending: false },
          ],
        }),
      );
      store.details.set(reaction.id, {
        message_id: reaction.id,
        reaction: '👍',
        location: null,
        contacts: [],
        story: null,
        template: null,
      });
      store.details.set(location.id, {
        message_id: location.id,
        reaction: null,
        location: {
          latitude: 45.46,
          longitude: 9.19,
          name: 'Negozio',
          address: 'Via Roma 1, Milano',
          map_url: 'https://maps.google.com/?q=45.46,9.19',
        },
        contacts: [],
        story: null,
        template: null,
      });
      store.details.set(contact.id, {
        message_id: contact.id,
        reaction: null,
        location: null,
        contacts: [{ name: 'Anna Rossi', phones: ['+39 333 1234567'] }],
        story: null,
        template: null,
      });
    } else if (id === CHAT_DEMO.instagram) {
      const story = message(conv, {
        text: '↩️ replied to your story: https://instagram.com/stories/bottega/1\nChe bella! Ce l’hai in blu?',
        has_raw: false,
      });
      messages.push(story);
      store.details.set(story.id, {
        message_id: story.id,
        reaction: null,
        location: null,
        contacts: [],
        story: { kind: 'reply', link: 'https://instagram.com/stories/bottega/1' },
        template: null,
      });
    } else if (id === CHAT_DEMO.telegram) {
      // The customer edited their message after sending it (Telegram's edited_message).
      const edited = message(conv, { text: 'Avete la taglia L?', has_raw: false });
      messages.push(edited);
      store.details.set(edited.id, {
        message_id: edited.id,
        reaction: null,
        location: null,
        contacts: [],
        story: null,
        template: null,
        edited_at: edited.sent_at + 60_000,
      });
    } else if (id === 5) {
      // A mail with links (the text pretends to be another address) and a script that must
      // never run.
      messages.push(
        message(conv, {
          text: 'Segui la spedizione qui: www.poste.it. Scrivici a aiuto@bottega.example',
          html:
            '<p>Segui la spedizione <a href="https://tracking.example.net/t/5?x=1">www.poste.it</a>.</p>' +
            '<p>Oppure scrivi a <a href="mailto:aiuto@bottega.example">il nostro aiuto</a>.</p>' +
            '<script>window.parent.__scriptRan = true; document.body.dataset.ran = "yes";</script>' +
            '<p style="height:400px">Fine del messaggio.</p>',
        }),
      );
    } else if (id === 2) {
      messages.push(
        message(conv, {
          text: '',
          parse_error: 'malformed MIME header at line 3',
          has_raw: true,
        }),
      );
    } else {
      const first = PREVIEWS[id % PREVIEWS.length];
      if (conv.last_direction === 'outbound') {
        messages.push(
          message(conv, {
            text: first,
            sent_at: conv.last_message_at - 50 * MINUTE,
            is_read: true,
          }),
          message(conv, {
            direction: 'outbound',
            sender_name: conv.account_name,
            sender_handle: 'ciao@bottega.example',
            text: conv.last_preview,
            delivery: 'sent',
            is_read: true,
          }),
        );
      } else {
        messages.push(message(conv, { text: conv.last_preview }));
      }
    }
    const detail: ConversationDetail = {
      conversation: conv,
      messages,
      contact: {
        id,
        display_name: conv.contact_name,
        identities: [
          {
            kind: conv.channel === 'email' ? 'email' : conv.channel,
            value: conv.contact_handle,
            display_name: conv.contact_name,
          },
        ],
        first_seen_at: now - 200 * 24 * 60 * MINUTE,
        last_contact_at: conv.last_message_at,
      },
    };
    store.threads.set(id, detail);
    return detail;
  }

  function addChatAccount(
    kind: ChannelKind,
    name: string,
    address: string,
    settings: Record<string, unknown>,
  ): Account {
    const account: Account = {
      id: store.nextAccountId++,
      kind,
      name,
      address,
      settings,
      enabled: true,
      created_at: Date.now(),
      status: { state: 'idle', last_sync_at: null, last_error: null, progress: null },
    };
    store.accounts = [...store.accounts, account];
    change({ accounts: [account.id] });
    return account;
  }

  function change(partial: Partial<Change>) {
    const payload: Change = {
      conversations: [],
      accounts: [],
      inbound: [],
      summaries: [],
      ...partial,
    };
    // Like the real shell: the event follows the command's answer.
    setTimeout(() => emit('sportello://changes', payload), 0);
  }

  function touch(id: number, patch: Partial<ConversationSummary>, moveToTop: boolean) {
    const next = { ...summary(id), ...patch };
    store.summaries.set(id, next);
    const detail = store.threads.get(id);
    if (detail) store.threads.set(id, { ...detail, conversation: next });
    if (moveToTop) {
      const at = store.order.indexOf(id);
      if (at > 0) {
        store.order.splice(at, 1);
        store.order.unshift(id);
      }
    }
  }

  function findMessage(messageId: number): Message | undefined {
    for (const detail of store.threads.values()) {
      const m = detail.messages.find((x) => x.id === messageId);
      if (m) return m;
    }
    return undefined;
  }

  function setDelivery(messageId: number, delivery: Delivery, error: ErrorBody | null = null) {
    for (const [id, detail] of store.threads) {
      if (detail.messages.some((m) => m.id === messageId)) {
        store.threads.set(id, {
          ...detail,
          messages: detail.messages.map((m) =>
            m.id === messageId ? { ...m, delivery, delivery_error: error } : m,
          ),
        });
        change({ conversations: [id] });
        return true;
      }
    }
    return false;
  }

  function snippetAround(text: string, query: string): string | null {
    const at = text.toLowerCase().indexOf(query.toLowerCase());
    if (at < 0) return null;
    const start = Math.max(0, at - 30);
    const end = Math.min(text.length, at + query.length + 50);
    return (
      (start > 0 ? '…' : '') +
      text.slice(start, at) +
      '\uE000' +
      text.slice(at, at + query.length) +
      '\uE001' +
      text.slice(at + query.length, end) +
      (end < text.length ? '…' : '')
    );
  }

  const contacts = createContacts({
    now,
    order: () => store.order,
    summary,
    thread,
    touch,
    change,
  });

  /** Rejects the browser sign-in that is waiting (config.oauthWaits). */
  let pendingSignIn: ((error: ErrorBody) => void) | null = null;

  const handlers: Record<string, (args: Record<string, unknown>) => unknown> = {
    ...contacts.handlers,
    app_info: () => ({ ...store.info, startup_error: config.startupError ?? null }),
    get_settings: () => store.settings,
    update_settings: (a) => {
      store.settings = { ...(a.settings as Settings) };
      return store.settings;
    },
    get_oauth_clients: () => store.oauthClients,
    set_oauth_client: (a) => {
      const input = a.input as OAuthClientInput;
      const tenant = input.provider === 'microsoft' ? input.tenant.trim() : '';
      if (!/^[A-Za-z0-9.-]*$/.test(tenant)) {
        throw { code: 'invalid_input', message: `"${tenant}" is not a Microsoft tenant` };
      }
      if (input.client_secret !== undefined) {
        if (input.client_secret.trim() === '') store.oauthSecrets.delete(input.provider);
        else store.oauthSecrets.set(input.provider, input.client_secret.trim());
      }
      const saved: OAuthClientSettings = {
        provider: input.provider,
        client_id: input.client_id.trim(),
        tenant,
        has_client_secret: store.oauthSecrets.has(input.provider),
        has_default: input.provider === 'google',
      };
      store.oauthClients = store.oauthClients.map((c) =>
        c.provider === input.provider ? saved : c,
      );
      return saved;
    },
    get_desktop_settings: () => store.desktop,
    update_desktop_settings: (a) => {
      store.desktop = { ...(a.settings as DesktopSettings) };
      return store.desktop;
    },
    report_startup: () => null,
    set_viewing: (a) => {
      store.viewing = (a.conversationId as number | null) ?? null;
      return null;
    },
    read_logs: () =>
      '2026-11-23T09:00:00Z  INFO sportello: started\n2026-11-23T09:00:01Z  WARN <b>not bold</b>\n',
    install_update: async () => {
      await new Promise((resolve) => setTimeout(resolve, config.updateDelay ?? 0));
      return null;
    },
    list_accounts: () => store.accounts,
    test_email_account: () => null,
    test_whatsapp_account: () => '+39 02 1234567',
    test_twilio_account: (a) => (a.input as TwilioInput).from,
    test_meta_accounts: () => 'Bottega Artigiana',
    test_telegram_account: () => '@bottega_bot',
    add_whatsapp_account: (a) => {
      const input = a.input as WhatsAppInput;
      return addChatAccount('whatsapp', input.name, '+39021234567', { provider: 'cloud' });
    },
    add_twilio_account: (a) => {
      const input = a.input as TwilioInput;
      return addChatAccount('whatsapp', input.name, input.from.replace('whatsapp:', ''), {
        provider: 'twilio',
      });
    },
    add_meta_accounts: (a) => {
      const input = a.input as MetaInput;
      const added = [addChatAccount('messenger', input.name, 'Bottega Artigiana', {})];
      if (input.instagram_id)
        added.push(
          addChatAccount('instagram', `${input.name} (Instagram)`, input.instagram_id, {}),
        );
      return added;
    },
    add_telegram_account: (a) => {
      const input = a.input as TelegramInput;
      return addChatAccount('telegram', input.name, '@bottega_bot', {});
    },
    webhook_info: () => ({
      url: 'http://127.0.0.1:8787',
      port: 8787,
      paths: ['/webhooks/whatsapp', '/webhooks/meta'],
      error: null,
    }),
    reply_window: (a) => {
      const id = a.conversationId as number;
      const set = store.windows.get(id);
      if (set) return set;
      const conv = summary(id);
      switch (conv.channel) {
        case 'whatsapp':
          return id === CHAT_DEMO.whatsappExpired
            ? { rule: 'templates_only' }
            : { rule: 'open', closes_at: now + 5 * HOUR + 30 * MINUTE };
        case 'messenger':
          return { rule: 'human_agent', closes_at: now + 3 * 24 * HOUR + HOUR };
        case 'instagram':
          return { rule: 'open', closes_at: now + 20 * HOUR };
        default:
          return { rule: 'always' };
      }
    },
    whatsapp_templates: () => TEMPLATES,
    message_details: (a) => {
      const detail = thread(a.conversationId as number);
      return detail.messages.flatMap((m) => {
        const d = store.details.get(m.id);
        return d ? [d] : [];
      });
    },
    'plugin:dialog|open': () => config.pickedFiles ?? ['/home/utente/Documenti/ricevuta.pdf'],
    open_link: () => null,
    add_email_account: (a) => {
      const input = a.input as EmailAccountInput;
      const account: Account = {
        id: store.nextAccountId++,
        kind: 'email',
        name: input.name,
        address: input.address,
        settings: { imap_host: input.imap_host, smtp_host: input.smtp_host },
        enabled: true,
        created_at: Date.now(),
        status: {
          state: 'syncing',
          last_sync_at: null,
          last_error: null,
          progress: { done: 0, total: 120 },
        },
      };
      store.accounts = [...store.accounts, account];
      change({ accounts: [account.id] });
      return account;
    },
    remove_account: (a) => {
      store.accounts = store.accounts.filter((x) => x.id !== a.accountId);
      // Its conversations go with it; the real store announces the account only.
      store.order = store.order.filter((id) => summary(id).account_id !== a.accountId);
      change({ accounts: [a.accountId as number] });
      return null;
    },
    refresh: (a) => {
      const ids = a.accountId === null ? store.accounts.map((x) => x.id) : [a.accountId as number];
      const set = (state: AccountStatus['state']) => {
        store.accounts = store.accounts.map((x) =>
          ids.includes(x.id) && x.status.state !== 'needs_attention'
            ? {
                ...x,
                status: {
                  ...x.status,
                  state,
                  last_sync_at: state === 'idle' ? Date.now() : x.status.last_sync_at,
                  progress: null,
                },
              }
            : x,
        );
        change({ accounts: ids });
      };
      set('syncing');
      setTimeout(() => set('idle'), 800);
      return null;
    },
    list_conversations: (a) => {
      const offset = a.offset as number;
      const limit = a.limit as number;
      return {
        total: store.order.length,
        items: store.order.slice(offset, offset + limit).map(summary),
      };
    },
    list_conversations_filtered: (a) => {
      const offset = a.offset as number;
      const limit = a.limit as number;
      const filter = (a.filter ?? {}) as ConversationFilter;
      const ids = store.order.filter((id) => matches(summary(id), filter));
      ids.sort((x, y) => Number(!!summary(y).pinned) - Number(!!summary(x).pinned));
      return { total: ids.length, items: ids.slice(offset, offset + limit).map(summary) };
    },
    view_counts: (): ViewCounts => {
      const all = store.order.map(summary);
      const count = (view: View) => all.filter((c) => inView(c, view)).length;
      return {
        inbox: count('inbox'),
        waiting: count('waiting'),
        overdue: all.filter(
          (c) =>
            c.status === 'open' &&
            c.waiting_since !== null &&
            c.waiting_since < Date.now() - store.care.sla_minutes * MINUTE,
        ).length,
        pending: count('pending'),
        snoozed: count('snoozed'),
        closed: count('closed'),
        unread: count('unread'),
        all: all.length,
        channels: [...new Set(store.accounts.map((x) => x.kind))].map((channel) => ({
          channel,
          count: all.filter((c) => c.channel === channel && c.status === 'open').length,
        })),
        accounts: store.accounts.map((x) => ({
          id: x.id,
          count: all.filter((c) => c.account_id === x.id && c.status === 'open').length,
        })),
        tags: contacts.tagCounts(),
        saved: store.views.map((v) => ({
          id: v.id,
          count: all.filter((c) => matches(c, v.filter)).length,
        })),
      };
    },
    list_saved_views: () => store.views,
    save_view: (a) => {
      const name = String(a.name).trim();
      if (!name) throw { code: 'invalid_input', message: 'a view needs a name' };
      const id = (a.id as number | null) ?? Math.max(0, ...store.views.map((v) => v.id)) + 1;
      const old = store.views.find((v) => v.id === id);
      if (a.id !== null && !old) throw { code: 'not_found', message: `no view ${id}` };
      const saved: SavedView = {
        id,
        name,
        filter: a.filter as ConversationFilter,
        position: old?.position ?? store.views.length + 1,
      };
      store.views = old
        ? store.views.map((v) => (v.id === id ? saved : v))
        : [...store.views, saved];
      return saved;
    },
    delete_view: (a) => {
      if (!store.views.some((v) => v.id === a.id))
        throw { code: 'not_found', message: `no view ${a.id}` };
      store.views = store.views.filter((v) => v.id !== a.id);
      return null;
    },
    get_care_settings: () => store.care,
    update_care_settings: (a) => {
      const next = a.settings as CareSettings;
      if (!next.timezone.includes('/') && next.timezone !== 'UTC')
        throw { code: 'invalid_input', message: `unknown time zone "${next.timezone}"` };
      store.care = { ...next, sla_minutes: Math.max(1, next.sla_minutes) };
      return store.care;
    },
    care_report: (a) => report(a.from as number, a.to as number),
    export_report_csv: (a) => {
      const path = String(a.path).endsWith('.csv') ? String(a.path) : `${a.path}.csv`;
      store.exports.set(path, { from: a.from as number, to: a.to as number });
      return path;
    },
    'plugin:dialog|save': () =>
      config.savePath === undefined
        ? '/home/utente/Documenti/tempi-di-risposta.csv'
        : config.savePath,
    set_status: (a) => {
      const id = a.conversationId as number;
      const status = a.status as ConversationStatus;
      const until = (a.snoozedUntil as number | null) ?? undefined;
      if (status === 'snoozed' && !(until && until > Date.now()))
        throw { code: 'invalid_input', message: 'snooze needs a future time' };
      touch(id, { status, snoozed_until: status === 'snoozed' ? until : undefined }, false);
      change({ conversations: [id] });
      return summary(id);
    },
    set_pinned: (a) => {
      const id = a.conversationId as number;
      touch(id, { pinned: a.pinned as boolean }, false);
      change({ conversations: [id] });
      return null;
    },
    archive_conversation: (a) => {
      const id = a.conversationId as number;
      if (summary(id).channel !== 'email')
        throw { code: 'invalid_input', message: 'only email can be archived' };
      touch(id, { status: 'closed' }, false);
      change({ conversations: [id] });
      return thread(id).messages.length;
    },
    add_note: (a) => {
      const id = a.conversationId as number;
      const detail = thread(id);
      const note = message(detail.conversation, {
        direction: 'outbound',
        kind: 'note',
        // As the core: the care settings' agent name, stored as received (never sent).
        sender_name: store.care.agent_name,
        text: (a.text as string).trim(),
        sent_at: Date.now(),
        delivery: 'received',
        is_read: true,
        has_raw: false,
      } as Partial<Message>);
      store.threads.set(id, { ...detail, messages: [...detail.messages, note] });
      change({ conversations: [id] });
      return note;
    },
    list_canned_replies: () => store.canned,
    save_canned_reply: (a) => {
      const input = a.input as CannedReplyInput;
      const id = (a.id as number | null) ?? Math.max(0, ...store.canned.map((c) => c.id)) + 1;
      const saved: CannedReply = { id, ...input, updated_at: Date.now() };
      store.canned = [...store.canned.filter((c) => c.id !== id), saved];
      return saved;
    },
    delete_canned_reply: (a) => {
      store.canned = store.canned.filter((c) => c.id !== a.id);
      return null;
    },
    render_canned_reply: (a): RenderedTemplate => {
      const reply = store.canned.find((c) => c.id === a.id);
      if (!reply) throw { code: 'not_found', message: 'canned reply' };
      // The core's rules (core/src/templates.rs): the asked language, else Italian; a
      // variable with no value takes its fallback, else a visible marker listed in `missing`.
      const language = [a.language as string | null, 'it', 'en'].find(
        (l) => l && reply.texts[l],
      ) as string;
      const text = reply.texts[language] ?? '';
      const conv = a.conversationId ? summary(a.conversationId as number) : null;
      const named = conv && conv.contact_name !== conv.contact_handle ? conv.contact_name : '';
      const values: Record<string, string> = {
        'contact.first_name': named.split(' ')[0] ?? '',
        'contact.name': named,
        'shop.name': store.care.shop_name,
        'agent.name': store.care.agent_name,
        'conversation.subject': conv?.subject ?? '',
      };
      const labels: Record<string, [string, string]> = {
        'contact.first_name': ['nome', 'first name'],
        'contact.name': ['nome cliente', 'customer name'],
        'shop.name': ['nome negozio', 'shop name'],
        'agent.name': ['tuo nome', 'your name'],
        'conversation.subject': ['oggetto', 'subject'],
      };
      const missing: string[] = [];
      const out = text.replace(/\{\{([^}|]+)(?:\|([^}]*))?\}\}/g, (_, raw: string, fallback) => {
        const name = raw.trim();
        const value = values[name]?.trim();
        if (value) return value;
        if (fallback?.trim()) return fallback.trim();
        if (!missing.includes(name)) missing.push(name);
        return `[${labels[name]?.[language === 'en' ? 1 : 0] ?? name}]`;
      });
      return { text: out, language, missing };
    },
    email_presets: () => [],
    // Gmail and Outlook addresses sign in in the browser (the real table is presets.rs).
    email_preset_for_address: (a): ProviderPreset | null => {
      const domain = String(a.address).split('@')[1]?.toLowerCase() ?? '';
      const oauth = ({ 'gmail.com': 'google', 'outlook.it': 'microsoft' } as const)[
        domain as 'gmail.com' | 'outlook.it'
      ];
      if (!oauth) return null;
      return {
        id: oauth === 'google' ? 'gmail' : 'outlook',
        name: oauth === 'google' ? 'Gmail / Google Workspace' : 'Outlook.com / Microsoft 365',
        domains: [domain],
        imap_host: oauth === 'google' ? 'imap.gmail.com' : 'outlook.office365.com',
        imap_port: 993,
        imap_security: 'tls',
        smtp_host: oauth === 'google' ? 'smtp.gmail.com' : 'smtp.office365.com',
        smtp_port: oauth === 'google' ? 465 : 587,
        smtp_security: oauth === 'google' ? 'tls' : 'starttls',
        auth: oauth,
        app_password: oauth === 'google',
      };
    },
    // The browser sign-in "comes back" at once (after `delays.email_oauth_sign_in`, if set).
    email_oauth_sign_in: (a) => {
      if (config.oauthWaits) {
        return new Promise((_, reject) => {
          pendingSignIn = reject;
        });
      }
      const input = a.input as OAuthAccountInput;
      const account: Account = {
        id: store.nextAccountId++,
        kind: 'email',
        name: input.name,
        address: input.address ?? 'negozio@gmail.com',
        settings: { oauth: { provider: input.provider, auth_base: null, client_id: null } },
        enabled: true,
        created_at: Date.now(),
        status: { state: 'syncing', last_sync_at: null, last_error: null, progress: null },
      };
      store.accounts = [...store.accounts, account];
      change({ accounts: [account.id] });
      return account;
    },
    email_sign_in_again: (a) => {
      const id = a.accountId as number;
      store.accounts = store.accounts.map((x) =>
        x.id === id
          ? {
              ...x,
              status: { ...x.status, state: 'idle', last_error: null, last_sync_at: Date.now() },
            }
          : x,
      );
      change({ accounts: [id] });
      return null;
    },
    cancel_email_sign_in: () => {
      pendingSignIn?.({ code: 'invalid_input', message: 'the sign-in was cancelled' });
      pendingSignIn = null;
      return null;
    },
    get_conversation: (a) => {
      const id = a.conversationId as number;
      if (id < 1 || !store.order.includes(id))
        throw { code: 'not_found', message: `conversation ${id}` };
      const detail = thread(id);
      return { ...detail, contact: contacts.contactOf(id) ?? detail.contact };
    },
    mark_read: (a) => {
      const id = a.conversationId as number;
      const detail = thread(id);
      store.threads.set(id, {
        ...detail,
        messages: detail.messages.map((m) => ({ ...m, is_read: true })),
      });
      touch(id, { unread_count: 0 }, false);
      change({ conversations: [id] });
      return null;
    },
    send_reply: (a) => {
      const id = a.conversationId as number;
      const detail = thread(id);
      const conv = detail.conversation;
      const files = (a.files as string[] | null) ?? [];
      const template = a.template as ReplyTemplate | null;
      const sent = message(conv, {
        direction: 'outbound',
        sender_name: conv.account_name,
        sender_handle: 'ciao@bottega.example',
        recipients: [conv.contact_handle],
        text: a.text as string,
        sent_at: Date.now(),
        delivery: 'queued',
        is_read: true,
        has_raw: false,
        attachments: files.map((path, i) =>
          attachment(
            900_000 + store.nextMessageId * 10 + i,
            path.split('/').pop() ?? path,
            'application/pdf',
            48_213,
          ),
        ),
      });
      if (template) {
        store.details.set(sent.id, {
          message_id: sent.id,
          reaction: null,
          location: null,
          contacts: [],
          story: null,
          template: template.kind === 'whatsapp' ? template.name : template.content_sid,
        });
      }
      store.threads.set(id, { ...detail, messages: [...detail.messages, sent] });
      touch(
        id,
        {
          last_preview: sent.text,
          last_direction: 'outbound',
          last_message_at: sent.sent_at,
          waiting_since: null,
          message_count: conv.message_count + 1,
        },
        true,
      );
      change({ conversations: [id] });
      if (config.autoDeliver) setTimeout(() => setDelivery(sent.id, 'sent'), 1200);
      return sent;
    },
    describe_files: (a) =>
      (a.paths as string[]).map((path) => ({
        path,
        name: path.split('/').pop() ?? path,
        size: config.fileSizes?.[path] ?? 48_213,
      })),
    forward_message: (a) => {
      const original = findMessage(a.messageId as number);
      if (!original) throw { code: 'not_found', message: 'message' };
      const to = (a.to as string).trim();
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(to))
        throw { code: 'invalid_input', message: `"${to}" is not a valid email address` };
      const id = original.conversation_id;
      const detail = thread(id);
      const conv = detail.conversation;
      const note = (a.text as string).trim();
      const forward = message(conv, {
        direction: 'outbound',
        sender_name: conv.account_name,
        sender_handle: 'ciao@bottega.example',
        recipients: [to],
        subject: `Fwd: ${original.subject}`,
        text:
          (note ? `${note}\n\n` : '') +
          `---------- Forwarded message ---------\nFrom: ${original.sender_name} <${original.sender_handle}>\n` +
          `Subject: ${original.subject}\nTo: ${original.recipients.join(', ')}\n\n${original.text}`,
        sent_at: Date.now(),
        delivery: 'queued',
        is_read: true,
        has_raw: false,
        attachments: original.attachments.map((x) => ({ ...x, id: x.id + 100_000 })),
      });
      store.threads.set(id, { ...detail, messages: [...detail.messages, forward] });
      change({ conversations: [id] });
      return forward;
    },
    retry_message: (a) => {
      const found = findMessage(a.messageId as number);
      if (!found) throw { code: 'not_found', message: 'message' };
      setDelivery(found.id, 'queued');
      if (config.autoDeliver) setTimeout(() => setDelivery(found.id, 'sent'), 1200);
      return null;
    },
    search: (a) => {
      const query = String(a.query).trim();
      const hits: SearchHit[] = [];
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
              sent_at: m.sent_at,
            });
          }
        }
        if (hits.length >= 50) break;
      }
      return hits;
    },
    open_attachment: () => null,
    save_attachment: (a) => {
      for (const detail of store.threads.values()) {
        for (const m of detail.messages) {
          const found = m.attachments.find((x) => x.id === a.attachmentId);
          if (found) return `/home/utente/Scaricati/${found.filename}`;
        }
      }
      throw { code: 'not_found', message: 'attachment' };
    },
    message_source: (a) =>
      `Return-Path: <cliente@example.com>\nFrom: =?broken?= <cliente@example.com>\nSubject: ???\n\nmessage ${a.messageId}: the raw source as stored.`,
  };

  async function handle(cmd: string, args: Record<string, unknown> = {}): Promise<unknown> {
    calls.push({ cmd, args });
    const delay = config.delays?.[cmd];
    if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
    const failure = failures.get(cmd);
    if (failure) {
      failures.delete(cmd);
      throw failure;
    }
    if (config.startupError && cmd !== 'app_info') {
      throw { code: 'internal', message: 'Sportello could not start' };
    }
    const handler = handlers[cmd];
    if (!handler) throw { code: 'internal', message: `mock: unknown command ${cmd}` };
    // A synchronous answer is timed so that tests/bench-first-render.mjs can leave the fake
    // backend's own work out.
    const started = performance.now();
    const result = handler(args);
    if (result instanceof Promise) return structuredClone(await result);
    const answer = structuredClone(result);
    performance.measure(`mock:${cmd}`, { start: started });
    return answer;
  }

  /** What tests drive through `window.__sportelloMock`. */
  const controls = {
    calls,
    /** The next call of `cmd` rejects with `error`. */
    failNext(cmd: string, error: ErrorBody) {
      failures.set(cmd, error);
    },
    setDelivery,
    /** The provider revoked an OAuth2 account's sign-in: it needs the user to sign in again. */
    revokeSignIn(accountId: number) {
      store.accounts = store.accounts.map((x) =>
        x.id === accountId
          ? {
              ...x,
              status: {
                ...x.status,
                state: 'needs_attention',
                last_error: { code: 'sign_in_again', message: 'invalid_grant: sign in again' },
              },
            }
          : x,
      );
      change({ accounts: [accountId] });
    },
    emitChange: (partial: Partial<Change>) => change(partial),
    summaryAt: (index: number) => summary(store.order[index]),
    /** The newest outbound message of a conversation (the reply a test just sent). */
    lastOutbound(conversationId: number) {
      const detail = store.threads.get(conversationId);
      return detail?.messages.filter((m) => m.direction === 'outbound').at(-1) ?? null;
    },
    /** A customer writes: new inbound message, row to the top, change event. */
    receive(conversationId: number, text: string) {
      const detail = thread(conversationId);
      const conv = detail.conversation;
      const m = message(conv, { text, sent_at: Date.now(), is_read: false });
      store.threads.set(conversationId, { ...detail, messages: [...detail.messages, m] });
      touch(
        conversationId,
        {
          last_preview: text,
          last_direction: 'inbound',
          last_message_at: m.sent_at,
          unread_count: conv.unread_count + 1,
          waiting_since: conv.waiting_since ?? m.sent_at,
        },
        true,
      );
      change({
        conversations: [conversationId],
        inbound: [
          {
            message_id: m.id,
            conversation_id: conversationId,
            channel: conv.channel,
            sender: conv.contact_name,
            preview: text,
          },
        ],
      });
    },
    settings: () => store.settings,
    care: () => store.care,
    savedViews: () => store.views,
    /** Paths export_report_csv wrote, with the period asked for. */
    exports: () => Object.fromEntries(store.exports),
    desktop: () => store.desktop,
    viewing: () => store.viewing,
    /** The shell found a newer signed version. */
    emitUpdate: (version: string) => emit('sportello://update-available', version),
    /** Changes an account's settings (e.g. a WhatsApp number that sends through Twilio). */
    setAccountSettings(accountId: number, settings: Record<string, unknown>) {
      const account = store.accounts.find((a) => a.id === accountId);
      if (account) account.settings = { ...account.settings, ...settings };
      change({ accounts: [accountId] });
    },
    /** The reply rule a conversation reports from now on. */
    setWindow(conversationId: number, window: ReplyWindow) {
      store.windows.set(conversationId, window);
      change({ conversations: [conversationId] });
    },
    /** A notification was clicked: the shell asks the window to show a conversation. */
    emitOpen: (conversationId: number) => emit('sportello://open-conversation', conversationId),
    /** Files dropped on the window (Tauri's native drag and drop event). */
    dropFiles: (paths: string[]) =>
      emit('tauri://drag-drop', { paths, position: { x: 10, y: 10 } }),
  };

  return { handle, controls };
}
