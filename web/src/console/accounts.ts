/**
 * The "accounts" page: the accounts table with search, sorting by column, paging and
 * multi-select (bulk delete, confirmed); a new account form (the server's rules: a 4-digit
 * number, name, e-mail, password — its refusals shown in words by their field); the Excel
 * import (.xls/.xlsx through the template) with its outcome — created, updated, and each
 * failed row with its reason plus the failure file to correct and re-import — the template
 * and the export as downloads.
 */
import { clearRefusal, el, field, pager, showRefusal } from './form-fields.ts';
import { api, upload } from './api.ts';
import { t } from './i18n.ts';

interface Account {
  number: string;
  name: string;
  email: string | null;
  createdAt: string;
}
interface ImportOutcome {
  created: number;
  updated: number;
  failed: { row: number; number: string; reason: string }[];
  failureFile: string | null;
}

const view = { q: '', page: 1, pageSize: 20, sort: 'number' as 'number' | 'name' | 'email' | 'created', order: 'asc' as 'asc' | 'desc', selected: new Set<string>() };



export async function renderAccounts(root: HTMLElement, onError: (error: unknown) => void): Promise<void> {
  const query = new URLSearchParams({ q: view.q, page: String(view.page), pageSize: String(view.pageSize), sort: view.sort, order: view.order });
  const { total, items } = await api<{ total: number; items: Account[] }>('GET', `/accounts?${query}`);
  const pages = Math.max(1, Math.ceil(total / view.pageSize));
  const again = () => renderAccounts(root, onError).catch(onError);

  // Search.
  const search = el('input', { id: 'account-search', type: 'search', value: view.q, placeholder: t('search') });
  search.setAttribute('aria-label', t('search'));
  search.addEventListener('change', () => {
    view.q = search.value.trim();
    view.page = 1;
    void again();
  });

  // New account.
  const formError = el('p', { className: 'form-error', id: 'account-form-error' });
  formError.setAttribute('role', 'alert');
  const number = el('input', { inputMode: 'numeric', maxLength: 4, required: true });
  const name = el('input', { maxLength: 64, required: true });
  const email = el('input', { type: 'email', maxLength: 128 });
  const password = el('input', { type: 'password', maxLength: 16, autocomplete: 'new-password' });
  const form = el(
    'form',
    { className: 'inline-form field-form', id: 'account-form', noValidate: true },
    field('account-number', t('accountNumber'), number),
    field('account-name', t('name'), name),
    field('account-email', t('email'), email),
    field('account-password', t('password'), password),
    el('div', { className: 'form-actions' }, el('button', { type: 'submit' }, t('create'))),
    formError,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearRefusal(form, formError);
    const address = email.value.trim();
    void api('POST', '/accounts', { number: number.value.trim(), name: name.value.trim(), password: password.value.trim(), ...(address ? { email: address } : {}) })
      .then(() => again())
      .catch((error: unknown) => {
        // (A refusal naming no field — the licence, the account limit — goes above the form.)
        const fields = { number: 'account-number', VCBOX_ERR_ACCOUNT_EXISTS: 'account-number', name: 'account-name', email: 'account-email', password: 'account-password' };
        if (!showRefusal(form, formError, error, fields)) onError(error);
      });
  });

  // Import and downloads.
  const file = el('input', { id: 'import-file', type: 'file', accept: '.xls,.xlsx' });
  const importLabel = el('label', { htmlFor: 'import-file' }, t('importFile'));
  const importButton = el('button', { type: 'button', id: 'import' }, t('import'));
  const outcome = el('div', { id: 'import-outcome' });
  outcome.setAttribute('aria-live', 'polite');
  importButton.addEventListener('click', () => {
    const chosen = file.files?.[0];
    if (!chosen) return;
    void upload<ImportOutcome>('/accounts/import', chosen)
      .then((result) => {
        const parts: (Node | string)[] = [el('p', { className: 'summary' }, t('importSummary', { created: String(result.created), updated: String(result.updated), failed: String(result.failed.length) }))];
        if (result.failed.length > 0) {
          parts.push(el('ul', { className: 'failures' }, ...result.failed.map((f) => el('li', {}, t('importFailure', { row: String(f.row), number: f.number || '—', reason: f.reason })))));
        }
        if (result.failureFile) {
          const bytes = Uint8Array.from(atob(result.failureFile), (c) => c.charCodeAt(0));
          const link = el('a', { href: URL.createObjectURL(new Blob([bytes])), download: `failed-${chosen.name}` }, t('failureFile'));
          parts.push(el('p', {}, link));
        }
        outcome.replaceChildren(...parts);
        return again().then(() => root.querySelector('#import-outcome')?.replaceWith(outcome));
      })
      .catch(onError);
  });
  const downloads = el(
    'p',
    { className: 'downloads' },
    el('a', { href: '/api/v1/accounts/template?format=xls', download: 'accounts-template.xls' }, t('template')),
    ' · ',
    el('a', { href: '/api/v1/accounts/export?format=xlsx', download: 'accounts.xlsx' }, t('export')),
  );

  // The table.
  const header = (key: typeof view.sort, label: string) => {
    const button = el('button', { type: 'button', className: 'sort' }, label, view.sort === key ? (view.order === 'asc' ? ' ▲' : ' ▼') : '');
    button.addEventListener('click', () => {
      view.order = view.sort === key && view.order === 'asc' ? 'desc' : 'asc';
      view.sort = key;
      void again();
    });
    const th = el('th', { scope: 'col' }, button);
    th.setAttribute('aria-sort', view.sort === key ? (view.order === 'asc' ? 'ascending' : 'descending') : 'none');
    return th;
  };
  const rows = items.map((account) => {
    const box = el('input', { type: 'checkbox', checked: view.selected.has(account.number) });
    box.setAttribute('aria-label', t('select', { name: account.name }));
    box.addEventListener('change', () => {
      if (box.checked) view.selected.add(account.number);
      else view.selected.delete(account.number);
      deleteButton.disabled = view.selected.size === 0;
    });
    const row = el('tr', {}, el('td', {}, box), el('td', {}, account.number), el('td', {}, account.name), el('td', {}, account.email ?? ''), el('td', {}, account.createdAt.slice(0, 10)));
    row.dataset.account = account.number;
    return row;
  });
  const deleteButton = el('button', { type: 'button', className: 'danger', id: 'delete-selected', disabled: view.selected.size === 0 }, t('deleteSelected'));
  deleteButton.addEventListener('click', () => {
    const numbers = [...view.selected];
    if (numbers.length === 0 || !window.confirm(t('confirmDelete', { count: String(numbers.length) }))) return;
    void api('POST', '/accounts/delete', { numbers })
      .then(() => {
        view.selected.clear();
        return again();
      })
      .catch(onError);
  });
  const table = el(
    'table',
    { id: 'accounts-table' },
    el('caption', {}, t('accountsTotal', { total: String(total) })),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, ''), header('number', t('accountNumber')), header('name', t('name')), header('email', t('email')), header('created', t('created')))),
    el('tbody', {}, ...rows),
  );
  root.replaceChildren(
    el('h1', {}, t('accountsTitle')),
    el('section', { className: 'panel' }, el('h2', {}, t('newAccount')), form),
    el('section', { className: 'panel' }, el('h2', {}, t('importTitle')), importLabel, file, importButton, downloads, outcome),
    el('div', { className: 'toolbar' }, search, deleteButton),
    table,
    pager(view.page, pages, { previous: t('previous'), next: t('next'), status: t('pageOf', { page: String(view.page), pages: String(pages) }) }, (page) => {
      view.page = page;
      void again();
    }),
  );
}
