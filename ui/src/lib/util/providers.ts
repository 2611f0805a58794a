import type { Security } from '$lib/ipc/ipc';

/** Public mail settings of providers common in Italy, to spare the user from typing them. */
export type Provider = {
  name: string;
  domains: string[];
  imap: { host: string; port: number; security: Security };
  smtp: { host: string; port: number; security: Security };
  /** Whether the provider refuses the normal password over IMAP and wants an app password. */
  appPassword: boolean;
};

export const PROVIDERS: Provider[] = [
  {
    name: 'Gmail',
    domains: ['gmail.com', 'googlemail.com'],
    imap: { host: 'imap.gmail.com', port: 993, security: 'tls' },
    smtp: { host: 'smtp.gmail.com', port: 465, security: 'tls' },
    appPassword: true,
  },
  {
    name: 'Outlook',
    domains: [
      'outlook.com',
      'outlook.it',
      'hotmail.com',
      'hotmail.it',
      'live.com',
      'live.it',
      'msn.com',
    ],
    imap: { host: 'outlook.office365.com', port: 993, security: 'tls' },
    smtp: { host: 'smtp-mail.outlook.com', port: 587, security: 'starttls' },
    appPassword: true,
  },
  {
    name: 'Libero',
    domains: ['libero.it', 'inwind.it', 'iol.it', 'blu.it', 'giallo.it'],
    imap: { host: 'imapmail.libero.it', port: 993, security: 'tls' },
    smtp: { host: 'smtpmail.libero.it', port: 465, security: 'tls' },
    appPassword: false,
  },
  {
    name: 'Aruba',
    domains: ['aruba.it'],
    imap: { host: 'imaps.aruba.it', port: 993, security: 'tls' },
    smtp: { host: 'smtps.aruba.it', port: 465, security: 'tls' },
    appPassword: false,
  },
  {
    name: 'Virgilio',
    domains: ['virgilio.it', 'alice.it', 'tim.it'],
    imap: { host: 'in.virgilio.it', port: 993, security: 'tls' },
    smtp: { host: 'out.virgilio.it', port: 465, security: 'tls' },
    appPassword: false,
  },
  {
    name: 'Tiscali',
    domains: ['tiscali.it'],
    imap: { host: 'imap.tiscali.it', port: 993, security: 'tls' },
    smtp: { host: 'smtp.tiscali.it', port: 465, security: 'tls' },
    appPassword: false,
  },
  {
    name: 'iCloud',
    domains: ['icloud.com', 'me.com', 'mac.com'],
    imap: { host: 'imap.mail.me.com', port: 993, security: 'tls' },
    smtp: { host: 'smtp.mail.me.com', port: 587, security: 'starttls' },
    appPassword: true,
  },
  {
    name: 'Yahoo',
    domains: ['yahoo.com', 'yahoo.it', 'ymail.com'],
    imap: { host: 'imap.mail.yahoo.com', port: 993, security: 'tls' },
    smtp: { host: 'smtp.mail.yahoo.com', port: 465, security: 'tls' },
    appPassword: true,
  },
];

export function providerForAddress(address: string): Provider | null {
  const domain = address.trim().toLowerCase().split('@')[1];
  if (!domain) return null;
  return PROVIDERS.find((p) => p.domains.includes(domain)) ?? null;
}

export const DEFAULT_PORTS: Record<'imap' | 'smtp', Record<Security, number>> = {
  imap: { tls: 993, starttls: 143, plain: 143 },
  smtp: { tls: 465, starttls: 587, plain: 25 },
};
