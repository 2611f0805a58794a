// The fake backend's contacts and tags: the same commands and rules as the core
// (store/contacts.rs, store/workflow.rs) over the mock's synthetic conversations. Each
// conversation starts with its own contact (same id); a merge moves conversations, identities
// and tags to the survivor and keeps a snapshot so the undo puts back exactly what was there.

import type {
  Change,
  Contact,
  ContactDetail,
  ContactSuggestion,
  ConversationDetail,
  ConversationSummary,
  Identity,
  IdentityKind,
  MergeRecord,
  Tag,
  TimelineItem,
} from '../../src/lib/ipc/types';

/** Contact 1 (an email customer) is likely the same person as contact 2 (on WhatsApp). */
export const CONTACT_DEMO = { contact: 1, same: 2 };

type MockContact = {
  id: number;
  display_name: string;
  identities: Identity[];
  first_seen_at: number;
  last_contact_at: number | null;
  notes: string;
  tag_ids: number[];
  merged_into: number | null;
};

type Merge = MergeRecord & {
  survivorBefore: MockContact;
  merged: MockContact;
  conversations: number[];
};

export type ContactsHost = {
  now: number;
  order: () => number[];
  summary: (id: number) => ConversationSummary;
  thread: (id: number) => ConversationDetail;
  touch: (id: number, patch: Partial<ConversationSummary>, moveToTop: boolean) => void;
  change: (partial: Partial<Change>) => void;
};

const DAY = 24 * 60 * 60_000;

function fail(code: string, message: string): never {
  throw { code, message };
}

export function createContacts(host: ContactsHost) {
  const contacts = new Map<number, MockContact>();
  const merges: Merge[] = [];
  const dismissed = new Set<string>();
  let tags: Tag[] = [];
  let nextTagId = 1;

  /** The contact with this id, made from its conversation the first time it is needed. */
  function raw(id: number): MockContact | undefined {
    const known = contacts.get(id);
    if (known) return known;
    if (!host.order().includes(id)) return undefined;
    const c = host.summary(id);
    const made: MockContact = {
      id,
      display_name: c.contact_name,
      identities: [
        {
          kind: (c.channel === 'email' ? 'email' : c.channel) as IdentityKind,
          value: c.contact_handle,
          display_name: c.contact_name,
        },
      ],
      first_seen_at: host.now - 200 * DAY + id * DAY,
      last_contact_at: c.last_message_at,
      notes: '',
      tag_ids: [],
      merged_into: null,
    };
    contacts.set(id, made);
    return made;
  }

  function visible(id: number): MockContact {
    const c = raw(id);
    if (!c || c.merged_into !== null) fail('not_found', `no contact ${id}`);
    return c;
  }

  function asContact(c: MockContact): Contact {
    return {
      id: c.id,
      display_name: c.display_name,
      identities: c.identities,
      first_seen_at: c.first_seen_at,
      last_contact_at: c.last_contact_at,
    };
  }

  function conversationsOf(id: number): number[] {
    return host.order().filter((cid) => host.summary(cid).contact_id === id);
  }

  function suggestions(contactId: number | null): ContactSuggestion[] {
    const { contact, same } = CONTACT_DEMO;
    const a = raw(contact);
    const b = raw(same);
    if (!a || !b || a.merged_into !== null || b.merged_into !== null) return [];
    if (dismissed.has(`${contact}:${same}`)) return [];
    if (contactId !== null && contactId !== contact && contactId !== same) return [];
    const flip = contactId === same;
    const [x, y] = flip ? [b, a] : [a, b];
    return [
      {
        contact_id: x.id,
        other_id: y.id,
        contact_name: x.display_name,
        other_name: y.display_name,
        reason: 'phone_in_message',
        detail: b.identities[0].value,
      },
    ];
  }

  function record(m: Merge): MergeRecord {
    return {
      id: m.id,
      survivor_id: m.survivor_id,
      merged_id: m.merged_id,
      merged_name: m.merged_name,
      created_at: m.created_at,
      undone_at: m.undone_at,
    };
  }

  function detail(id: number): ContactDetail {
    const c = visible(id);
    const conversations = conversationsOf(id).map(host.summary);
    const timeline: TimelineItem[] = conversations
      .flatMap((conv) =>
        host.thread(conv.id).messages.map((m): TimelineItem => ({
          message_id: m.id,
          conversation_id: conv.id,
          channel: conv.channel,
          account_name: conv.account_name,
          direction: m.direction,
          kind: m.kind ?? 'normal',
          subject: m.subject,
          preview: m.text.slice(0, 160),
          sent_at: m.sent_at,
        })),
      )
      .sort((x, y) => y.sent_at - x.sent_at)
      .slice(0, 200);
    return {
      contact: asContact(c),
      notes: c.notes,
      tag_ids: [...c.tag_ids],
      conversations,
      timeline,
      merges: merges
        .filter((m) => m.survivor_id === id && m.undone_at === null)
        .reverse()
        .map(record),
      suggestions: suggestions(id),
    };
  }

  /** Conversations of a contact show its (new) name. */
  function renameRows(id: number) {
    const c = visible(id);
    for (const cid of conversationsOf(id)) {
      host.touch(cid, { contact_name: c.display_name }, false);
    }
  }

  function tag(id: number): Tag {
    return tags.find((x) => x.id === id) ?? fail('not_found', `no tag ${id}`);
  }

  function validColor(color: string): string {
    const c = color.trim().toLowerCase();
    if (!/^#[0-9a-f]{6}$/.test(c)) fail('invalid_input', `a tag colour looks like #1a7f37`);
    return c;
  }

  function sortTags() {
    tags = [...tags].sort((x, y) => x.name.localeCompare(y.name));
  }

  const handlers: Record<string, (args: Record<string, unknown>) => unknown> = {
    conversation_contact: (a) => {
      const id = a.conversationId as number;
      if (!host.order().includes(id)) fail('not_found', `no conversation ${id}`);
      const contactId = host.summary(id).contact_id;
      return contactId === null ? null : detail(contactId);
    },
    find_contacts: (a) => {
      const text = String(a.text).trim().toLowerCase();
      if (!text) return [];
      return host
        .order()
        .map((id) => raw(id))
        .filter((c): c is MockContact => !!c && c.merged_into === null)
        .filter(
          (c) =>
            c.display_name.toLowerCase().includes(text) ||
            c.identities.some((i) => i.value.toLowerCase().includes(text)),
        )
        .slice(0, 20)
        .map(asContact);
    },
    contact_suggestions: (a) => suggestions((a.contactId as number | null) ?? null),
    dismiss_suggestion: (a) => {
      const [x, y] = [a.contactId as number, a.otherId as number].sort((p, q) => p - q);
      dismissed.add(`${x}:${y}`);
      return null;
    },
    merge_contacts: (a) => {
      const survivor = visible(a.survivorId as number);
      const merged = visible(a.mergedId as number);
      if (survivor.id === merged.id) fail('invalid_input', 'a contact cannot merge with itself');
      const moved = conversationsOf(merged.id);
      const m: Merge = {
        id: merges.length + 1,
        survivor_id: survivor.id,
        merged_id: merged.id,
        merged_name: merged.display_name,
        created_at: Date.now(),
        undone_at: null,
        survivorBefore: structuredClone(survivor),
        merged: structuredClone(merged),
        conversations: moved,
      };
      merges.push(m);
      survivor.identities = [...survivor.identities, ...merged.identities];
      survivor.tag_ids = [...new Set([...survivor.tag_ids, ...merged.tag_ids])];
      survivor.notes = [survivor.notes, merged.notes].filter((n) => n.trim()).join('\n\n');
      survivor.first_seen_at = Math.min(survivor.first_seen_at, merged.first_seen_at);
      survivor.last_contact_at = Math.max(
        survivor.last_contact_at ?? 0,
        merged.last_contact_at ?? 0,
      );
      merged.identities = [];
      merged.tag_ids = [];
      merged.merged_into = survivor.id;
      for (const cid of moved) {
        host.touch(cid, { contact_id: survivor.id, contact_name: survivor.display_name }, false);
      }
      host.change({ conversations: [...moved, ...conversationsOf(survivor.id)] });
      return record(m);
    },
    undo_merge: (a) => {
      const m = merges.find((x) => x.id === a.mergeId) ?? fail('not_found', 'no merge');
      if (m.undone_at !== null) fail('invalid_input', 'this merge was already undone');
      const survivor = raw(m.survivor_id)!;
      if (survivor.merged_into !== null) fail('invalid_input', 'undo the later merge first');
      contacts.set(m.survivor_id, structuredClone(m.survivorBefore));
      contacts.set(m.merged_id, structuredClone(m.merged));
      for (const cid of m.conversations) {
        host.touch(cid, { contact_id: m.merged_id, contact_name: m.merged.display_name }, false);
      }
      m.undone_at = Date.now();
      host.change({ conversations: [...m.conversations, ...conversationsOf(m.survivor_id)] });
      return record(m);
    },
    rename_contact: (a) => {
      const name = String(a.name).trim();
      if (!name) fail('invalid_input', 'a contact needs a name');
      visible(a.contactId as number).display_name = name;
      renameRows(a.contactId as number);
      host.change({ conversations: conversationsOf(a.contactId as number) });
      return null;
    },
    set_contact_notes: (a) => {
      visible(a.contactId as number).notes = String(a.notes);
      host.change({ conversations: conversationsOf(a.contactId as number) });
      return null;
    },
    list_tags: () => tags,
    create_tag: (a) => {
      const name = String(a.name).trim();
      if (!name) fail('invalid_input', 'a tag needs a name');
      const color = validColor(String(a.color));
      const same = tags.find((x) => x.name.toLowerCase() === name.toLowerCase());
      if (same) return same;
      const made = { id: nextTagId++, name, color };
      tags.push(made);
      sortTags();
      return made;
    },
    update_tag: (a) => {
      const t = tag(a.id as number);
      const name = String(a.name).trim();
      if (!name) fail('invalid_input', 'a tag needs a name');
      if (tags.some((x) => x.id !== t.id && x.name.toLowerCase() === name.toLowerCase()))
        fail('invalid_input', `a tag named "${name}" already exists`);
      t.name = name;
      t.color = validColor(String(a.color));
      sortTags();
      host.change({
        conversations: host.order().filter((id) => host.summary(id).tag_ids?.includes(t.id)),
      });
      return t;
    },
    delete_tag: (a) => {
      const t = tag(a.id as number);
      tags = tags.filter((x) => x.id !== t.id);
      const touched = host.order().filter((id) => host.summary(id).tag_ids?.includes(t.id));
      for (const id of touched) {
        host.touch(id, { tag_ids: host.summary(id).tag_ids!.filter((x) => x !== t.id) }, false);
      }
      for (const c of contacts.values()) c.tag_ids = c.tag_ids.filter((x) => x !== t.id);
      host.change({ conversations: touched });
      return null;
    },
    tag_conversation: (a) => {
      const id = a.conversationId as number;
      if (!host.order().includes(id)) fail('not_found', `no conversation ${id}`);
      const t = tag(a.tagId as number);
      const current = host.summary(id).tag_ids ?? [];
      const next = a.on ? [...new Set([...current, t.id])] : current.filter((x) => x !== t.id);
      host.touch(id, { tag_ids: tags.filter((x) => next.includes(x.id)).map((x) => x.id) }, false);
      host.change({ conversations: [id] });
      return null;
    },
    tag_contact: (a) => {
      const c = visible(a.contactId as number);
      const t = tag(a.tagId as number);
      c.tag_ids = a.on ? [...new Set([...c.tag_ids, t.id])] : c.tag_ids.filter((x) => x !== t.id);
      host.change({ conversations: conversationsOf(c.id) });
      return null;
    },
  };

  return {
    handlers,
    /** The contact a conversation's detail carries (it follows merges). */
    contactOf(conversationId: number): Contact | null {
      const id = host.summary(conversationId).contact_id;
      const c = id === null ? undefined : raw(id);
      return c && c.merged_into === null ? asContact(c) : null;
    },
    /** Open conversations per tag, for view_counts (the core counts the inbox too). */
    tagCounts(): { id: number; count: number }[] {
      return tags.map((t) => ({
        id: t.id,
        count: host.order().filter((id) => {
          const s = host.summary(id);
          return s.status === 'open' && (s.tag_ids ?? []).includes(t.id);
        }).length,
      }));
    },
  };
}
