/**
 * What the console's form pages (rooms, VMRs, meetings) share: `el()` to build elements, a
 * labelled field with its own message line (tied to the control by aria-describedby), and
 * `showRefusal()`, which puts the server's refusal — already in the chosen language — by the
 * field the server names, or above the form when it names none, and `pager()`, the previous /
 * next buttons of a paged table. Page state and words live in the pages.
 */
import { ApiError } from './api.ts';

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

type Control = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

/** A label, its control (given its id here) and an empty message line under it; `hint` is a short rule shown under the label. */
export function field<T extends Control>(id: string, label: string, control: T, hint = ''): HTMLDivElement {
  control.id = id;
  control.name = id;
  const message = el('p', { className: 'field-error', id: `${id}-error` });
  const describedBy = [`${id}-error`];
  const parts: Node[] = [el('label', { htmlFor: id }, label), control];
  if (hint) {
    parts.push(el('span', { className: 'hint', id: `${id}-hint` }, hint));
    describedBy.push(`${id}-hint`);
  }
  control.setAttribute('aria-describedby', describedBy.join(' '));
  return el('div', { className: 'field' }, ...parts, message);
}

/** Empties every field message of a form and the form's own message. */
export function clearRefusal(form: HTMLFormElement, formMessage: HTMLElement): void {
  for (const message of form.querySelectorAll<HTMLElement>('.field-error')) message.textContent = '';
  for (const control of form.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
  formMessage.textContent = '';
}

/**
 * Shows a refusal of the form's request by its field: `fields` maps the server's field names
 * (`guestPin`, `recurrence.until`, or an error code that implies one) to control ids. Returns
 * false for what is not a refusal of the input (no session, server unreachable, a crash), which
 * the caller hands to the page's error line.
 */
export function showRefusal(form: HTMLFormElement, formMessage: HTMLElement, error: unknown, fields: Record<string, string>): boolean {
  clearRefusal(form, formMessage);
  if (!(error instanceof ApiError) || error.status === 0 || error.status === 401 || error.status >= 500) return false;
  const id = fields[error.field ?? ''] ?? fields[error.code];
  const control = id ? form.querySelector<HTMLElement>(`#${id}`) : null;
  const message = id ? form.querySelector<HTMLElement>(`#${id}-error`) : null;
  if (control && message) {
    message.textContent = error.message;
    control.setAttribute('aria-invalid', 'true');
    control.focus();
  } else {
    formMessage.textContent = error.message;
  }
  return true;
}

/** Previous and next buttons of a paged table (with `status`, e.g. "page 2 of 5", between them); `go(page)` shows another page. */
export function pager(page: number, pages: number, labels: { previous: string; next: string; status?: string }, go: (page: number) => void): HTMLDivElement {
  const previous = el('button', { type: 'button', disabled: page <= 1 }, labels.previous);
  previous.addEventListener('click', () => go(page - 1));
  const next = el('button', { type: 'button', disabled: page >= pages }, labels.next);
  next.addEventListener('click', () => go(page + 1));
  return el('div', { className: 'pager' }, previous, ...(labels.status ? [el('span', {}, labels.status)] : []), next);
}
