// Short messages at the bottom of the window: saved files, sync summaries, errors.

import { describeError } from '$lib/util/errors';

/** A button on the toast (e.g. Undo); clicking it runs `run` and dismisses the toast. */
export type ToastAction = { label: string; run: () => void };

export type Toast = {
  id: number;
  text: string;
  detail?: string;
  kind: 'info' | 'error';
  action?: ToastAction;
};

class Toasts {
  items = $state<Toast[]>([]);
}

export const toasts = new Toasts();
let nextId = 1;

export function dismissToast(id: number) {
  toasts.items = toasts.items.filter((toast) => toast.id !== id);
}

function push(toast: Omit<Toast, 'id'>, ms: number) {
  const id = nextId++;
  toasts.items = [...toasts.items.slice(-3), { ...toast, id }];
  setTimeout(() => dismissToast(id), ms);
}

export function notify(text: string, action?: ToastAction) {
  // An action needs time to be read and reached.
  push({ text, kind: 'info', action }, action ? 10_000 : 5000);
}

/** An error from a command, shown by its code with the backend's detail underneath. */
export function notifyError(reason: unknown, lead?: string) {
  const { text, detail } = describeError(reason);
  push({ text: lead ? `${lead} ${text}` : text, detail, kind: 'error' }, 10_000);
}
