/**
 * What the rooms and VMRs pages share: a list of entries with one form above it that adds a
 * new entry or changes the one being edited (POST or PATCH; the server's refusal shown by its
 * field), a search box, a select box per row with a bulk delete (confirmed), and per row a
 * "change" and a "delete" button. A page gives its words, its form's controls, its columns and
 * the body it sends; the entries' data, their fields and their rules stay in the page.
 */
import { api } from './api.ts';
import { clearRefusal, el, showRefusal } from './form-fields.ts';

/** What a list page keeps between renders: the search, the selected entries, the one being changed. */
export interface ListView<T> {
  q: string;
  selected: Set<number>;
  editing: T | undefined;
}

/** The words every list page has (its `words()` table holds these keys). */
export type ListWords = (
  key: 'title' | 'total' | 'create' | 'save' | 'cancelEdit' | 'edit' | 'delete' | 'search' | 'deleteSelected' | 'confirmDelete' | 'select' | 'selectColumn' | 'none' | 'actions',
  values?: Record<string, string>,
) => string;

export interface EditableList<T extends { id: number }> {
  readonly root: HTMLElement;
  readonly view: ListView<T>;
  readonly items: readonly T[];
  readonly w: ListWords;
  /** Names the elements (`room` → #room-form, #room-search, #rooms-table, #rooms-delete-selected) and each row's data attribute (`data-room`). */
  readonly prefix: string;
  /** The API collection: POST `path`, PATCH `path/:id`, POST `path/delete {ids}`. */
  readonly path: string;
  /** The form's heading: "New room", or "Change room …" while one is edited. */
  readonly heading: string;
  /** The form's controls (labelled fields, check boxes, datalists), in order. */
  readonly controls: readonly Node[];
  /** The server's field names (or error codes) → the ids of the controls that show their refusal. */
  readonly refusalFields: Readonly<Record<string, string>>;
  /** The request body built from the form's controls. */
  readonly body: () => Record<string, unknown>;
  /** The control focused when a row's "change" opens it in the form. */
  readonly focusOnEdit: string;
  readonly columns: readonly { readonly label: string; readonly cell: (item: T) => Node | string; readonly className?: string }[];
  /** How a row is named to assistive technology ("Select …", "Change …", "Delete …") and in its data attribute. */
  readonly names: { readonly select: (item: T) => string; readonly action: (item: T) => string; readonly key: (item: T) => string };
  /** Renders the page again (after a change, or with another search). */
  readonly again: () => Promise<void>;
  readonly onError: (error: unknown) => void;
}

/** `?q=…` for the list request, or nothing without a search. */
export const searchQuery = (view: ListView<unknown>): string => (view.q ? `?q=${encodeURIComponent(view.q)}` : '');

export function renderEditableList<T extends { id: number }>(list: EditableList<T>): void {
  const { view, w, prefix, again, onError } = list;
  for (const id of view.selected) if (!list.items.some((item) => item.id === id)) view.selected.delete(id);

  // The form: a new entry, or the one being changed.
  const editing = view.editing;
  const formMessage = el('p', { className: 'form-error', id: `${prefix}-form-error` });
  formMessage.setAttribute('role', 'alert');
  const cancel = el('button', { type: 'button', className: 'secondary', hidden: !editing }, w('cancelEdit'));
  cancel.addEventListener('click', () => {
    view.editing = undefined;
    void again();
  });
  const form = el(
    'form',
    { className: 'inline-form field-form', id: `${prefix}-form`, noValidate: true },
    ...list.controls,
    el('div', { className: 'form-actions' }, el('button', { type: 'submit' }, editing ? w('save') : w('create')), cancel),
    formMessage,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearRefusal(form, formMessage);
    const body = list.body();
    void (editing ? api('PATCH', `${list.path}/${editing.id}`, body) : api('POST', list.path, body))
      .then(() => {
        view.editing = undefined;
        return again();
      })
      .catch((error: unknown) => {
        if (!showRefusal(form, formMessage, error, list.refusalFields)) onError(error);
      });
  });

  // Search and the bulk delete.
  const search = el('input', { id: `${prefix}-search`, type: 'search', value: view.q, placeholder: w('search') });
  search.setAttribute('aria-label', w('search'));
  search.addEventListener('change', () => {
    view.q = search.value.trim();
    void again();
  });
  const remove = (ids: number[]) => {
    if (ids.length === 0 || !window.confirm(w('confirmDelete', { count: String(ids.length) }))) return;
    void api('POST', `${list.path}/delete`, { ids })
      .then(() => {
        for (const id of ids) view.selected.delete(id);
        if (view.editing && ids.includes(view.editing.id)) view.editing = undefined;
        return again();
      })
      .catch(onError);
  };
  const deleteSelected = el('button', { type: 'button', className: 'danger', id: `${prefix}s-delete-selected`, disabled: view.selected.size === 0 }, w('deleteSelected'));
  deleteSelected.addEventListener('click', () => remove([...view.selected]));

  const rows = list.items.map((item) => {
    const box = el('input', { type: 'checkbox', checked: view.selected.has(item.id) });
    box.setAttribute('aria-label', w('select', { name: list.names.select(item) }));
    box.addEventListener('change', () => {
      if (box.checked) view.selected.add(item.id);
      else view.selected.delete(item.id);
      deleteSelected.disabled = view.selected.size === 0;
    });
    const edit = el('button', { type: 'button', className: 'edit secondary' }, w('edit'));
    edit.setAttribute('aria-label', `${w('edit')} ${list.names.action(item)}`);
    edit.addEventListener('click', () => {
      view.editing = item;
      void again().then(() => document.getElementById(list.focusOnEdit)?.focus());
    });
    const del = el('button', { type: 'button', className: 'delete danger' }, w('delete'));
    del.setAttribute('aria-label', `${w('delete')} ${list.names.action(item)}`);
    del.addEventListener('click', () => remove([item.id]));
    const row = el(
      'tr',
      {},
      el('td', {}, box),
      ...list.columns.map((column) => el('td', column.className ? { className: column.className } : {}, column.cell(item))),
      el('td', { className: 'actions' }, edit, ' ', del),
    );
    row.dataset[prefix] = list.names.key(item);
    return row;
  });
  const table = el(
    'table',
    { id: `${prefix}s-table` },
    el('caption', {}, w('total', { total: String(list.items.length) })),
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        el('th', { scope: 'col' }, el('span', { className: 'visually-hidden' }, w('selectColumn'))),
        ...list.columns.map((column) => el('th', { scope: 'col' }, column.label)),
        el('th', { scope: 'col' }, w('actions')),
      ),
    ),
    el('tbody', {}, ...rows),
  );
  list.root.replaceChildren(
    el('h1', {}, w('title')),
    el('section', { className: 'panel' }, el('h2', {}, list.heading), form),
    el('div', { className: 'toolbar' }, search, deleteSelected),
    el('div', { className: 'table-wrap' }, table),
    ...(list.items.length === 0 ? [el('p', { className: 'empty' }, w('none'))] : []),
  );
}
