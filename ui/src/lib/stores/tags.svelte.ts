// The tags (names and colours) and the tag picker's open state. Conversation rows carry tag
// ids only; chips look their name and colour up here.

import * as ipc from '$lib/ipc/ipc';
import type { Tag } from '$lib/ipc/ipc';
import { patchRow } from './conversations.svelte';
import { thread } from './thread.svelte';
import { notifyError } from './toasts.svelte';

class Tags {
  list = $state.raw<Tag[]>([]);
  /** The picker of the open conversation (the `t` shortcut and the header button open it). */
  pickerOpen = $state(false);
}

export const tags = new Tags();

export async function loadTags(): Promise<void> {
  try {
    tags.list = await ipc.listTags();
  } catch {
    // Chips of unknown tags are simply not drawn until the next load.
  }
}

/** The tags with these ids, in the tag list's order (by name); unknown ids are skipped. */
export function tagsOf(ids: readonly number[] | undefined): Tag[] {
  if (!ids || ids.length === 0) return [];
  return tags.list.filter((tag) => ids.includes(tag.id));
}

export function openTagPicker() {
  if (thread.selectedId !== null) tags.pickerOpen = true;
}

export function closeTagPicker() {
  tags.pickerOpen = false;
}

/** Creates a tag (or finds the one with that name) and keeps the list in order. */
export async function createTag(name: string, color: string): Promise<Tag | null> {
  try {
    const tag = await ipc.createTag(name, color);
    await loadTags();
    return tag;
  } catch (reason) {
    notifyError(reason);
    return null;
  }
}

/** Puts a tag on a conversation or takes it off: the row and the thread change at once. */
export async function setConversationTag(conversationId: number, tagId: number, on: boolean) {
  const detail = thread.detail;
  const current =
    detail?.conversation.id === conversationId ? (detail.conversation.tag_ids ?? []) : null;
  if (detail && current) {
    const tag_ids = current.filter((id) => id !== tagId).concat(on ? [tagId] : []);
    thread.detail = { ...detail, conversation: { ...detail.conversation, tag_ids } };
    patchRow(conversationId, { tag_ids });
  }
  try {
    await ipc.tagConversation(conversationId, tagId, on);
  } catch (reason) {
    notifyError(reason);
  }
}

export async function updateTag(id: number, name: string, color: string) {
  try {
    await ipc.updateTag(id, name, color);
  } catch (reason) {
    notifyError(reason);
  }
  await loadTags();
}

export async function deleteTag(id: number) {
  try {
    await ipc.deleteTag(id);
  } catch (reason) {
    notifyError(reason);
  }
  await loadTags();
}
