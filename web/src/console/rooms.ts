/**
 * The "rooms" page (spec "Rooms and meetings"): the physical rooms — normal, or video bound to
 * the account of the terminal in the room, listed with that terminal's model and version from
 * its registration — with search, multi-select delete (confirmed), and one form to add a room
 * or change the one being edited; the server's refusal is shown by its field.
 */
import { api } from './api.ts';
import { clearRefusal, el, field, showRefusal } from './form-fields.ts';
import { words } from './i18n.ts';

const w = words({
  en: {
    title: 'Rooms',
    total: '{total} rooms',
    newRoom: 'New room',
    editRoom: 'Change room “{name}”',
    name: 'Name',
    type: 'Type',
    normal: 'Normal',
    video: 'Video (with a terminal)',
    account: 'Bound account',
    accountHint: 'the terminal’s 4-digit account, for a video room',
    device: 'Terminal',
    created: 'Created',
    actions: 'Actions',
    create: 'Add room',
    save: 'Save changes',
    cancelEdit: 'Cancel',
    edit: 'Change',
    delete: 'Delete',
    search: 'Search name or account',
    deleteSelected: 'Delete selected',
    confirmDelete: 'Delete {count} rooms? Meetings that list them lose them as participants.',
    select: 'Select {name}',
    selectColumn: 'Select',
    none: 'No room yet.',
    notRegistered: 'not registered',
  },
  'zh-CN': {
    title: '会议室',
    total: '共 {total} 个会议室',
    newRoom: '新建会议室',
    editRoom: '修改会议室“{name}”',
    name: '名称',
    type: '类型',
    normal: '普通会议室',
    video: '视频会议室（有终端）',
    account: '绑定账号',
    accountHint: '视频会议室内终端的 4 位账号',
    device: '终端',
    created: '创建日期',
    actions: '操作',
    create: '添加会议室',
    save: '保存修改',
    cancelEdit: '取消',
    edit: '修改',
    delete: '删除',
    search: '搜索名称或账号',
    deleteSelected: '删除所选',
    confirmDelete: '删除 {count} 个会议室？会议中将不再包含这些会议室。',
    select: '选择 {name}',
    selectColumn: '选择',
    none: '还没有会议室。',
    notRegistered: '未注册',
  },
});

interface Room {
  id: number;
  name: string;
  type: 'normal' | 'video';
  account: string | null;
  deviceModel: string | null;
  deviceVersion: string | null;
  createdAt: string;
}

const view = { q: '', selected: new Set<number>(), editing: undefined as Room | undefined };

export async function renderRooms(root: HTMLElement, onError: (error: unknown) => void): Promise<void> {
  const [rooms, accounts] = await Promise.all([
    api<Room[]>('GET', `/rooms${view.q ? `?q=${encodeURIComponent(view.q)}` : ''}`),
    api<{ items: { number: string; name: string }[] }>('GET', '/accounts?pageSize=500&sort=number'),
  ]);
  const again = () => renderRooms(root, onError).catch(onError);
  for (const id of view.selected) if (!rooms.some((room) => room.id === id)) view.selected.delete(id);

  // The form: a new room, or the one being changed.
  const editing = view.editing;
  const name = el('input', { maxLength: 255, required: true, value: editing?.name ?? '' });
  const type = el('select', {}, el('option', { value: 'normal' }, w('normal')), el('option', { value: 'video' }, w('video')));
  type.value = editing?.type ?? 'normal';
  const account = el('input', { inputMode: 'numeric', maxLength: 4, value: editing?.account ?? '' });
  account.setAttribute('list', 'room-accounts');
  const accountList = el('datalist', { id: 'room-accounts' }, ...accounts.items.map((a) => el('option', { value: a.number }, a.name)));
  const accountField = field('room-account', w('account'), account, w('accountHint'));
  const showAccount = () => {
    accountField.hidden = type.value !== 'video';
  };
  type.addEventListener('change', showAccount);
  showAccount();
  const formMessage = el('p', { className: 'form-error', id: 'room-form-error' });
  formMessage.setAttribute('role', 'alert');
  const cancel = el('button', { type: 'button', className: 'secondary', hidden: !editing }, w('cancelEdit'));
  cancel.addEventListener('click', () => {
    view.editing = undefined;
    void again();
  });
  const form = el(
    'form',
    { className: 'inline-form field-form', id: 'room-form', noValidate: true },
    field('room-name', w('name'), name),
    field('room-type', w('type'), type),
    accountField,
    accountList,
    el('div', { className: 'form-actions' }, el('button', { type: 'submit' }, editing ? w('save') : w('create')), cancel),
    formMessage,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearRefusal(form, formMessage);
    const body = { name: name.value.trim(), type: type.value, account: type.value === 'video' ? account.value.trim() || null : null };
    void (editing ? api('PATCH', `/rooms/${editing.id}`, body) : api('POST', '/rooms', body))
      .then(() => {
        view.editing = undefined;
        return again();
      })
      .catch((error: unknown) => {
        if (!showRefusal(form, formMessage, error, { name: 'room-name', type: 'room-type', account: 'room-account' })) onError(error);
      });
  });

  // Search and the bulk delete.
  const search = el('input', { id: 'room-search', type: 'search', value: view.q, placeholder: w('search') });
  search.setAttribute('aria-label', w('search'));
  search.addEventListener('change', () => {
    view.q = search.value.trim();
    void again();
  });
  const remove = (ids: number[]) => {
    if (ids.length === 0 || !window.confirm(w('confirmDelete', { count: String(ids.length) }))) return;
    void api('POST', '/rooms/delete', { ids })
      .then(() => {
        for (const id of ids) view.selected.delete(id);
        if (view.editing && ids.includes(view.editing.id)) view.editing = undefined;
        return again();
      })
      .catch(onError);
  };
  const deleteSelected = el('button', { type: 'button', className: 'danger', id: 'rooms-delete-selected', disabled: view.selected.size === 0 }, w('deleteSelected'));
  deleteSelected.addEventListener('click', () => remove([...view.selected]));

  const rows = rooms.map((room) => {
    const box = el('input', { type: 'checkbox', checked: view.selected.has(room.id) });
    box.setAttribute('aria-label', w('select', { name: room.name }));
    box.addEventListener('change', () => {
      if (box.checked) view.selected.add(room.id);
      else view.selected.delete(room.id);
      deleteSelected.disabled = view.selected.size === 0;
    });
    const edit = el('button', { type: 'button', className: 'edit secondary' }, w('edit'));
    edit.setAttribute('aria-label', `${w('edit')} ${room.name}`);
    edit.addEventListener('click', () => {
      view.editing = room;
      void again().then(() => document.getElementById('room-name')?.focus());
    });
    const del = el('button', { type: 'button', className: 'delete danger' }, w('delete'));
    del.setAttribute('aria-label', `${w('delete')} ${room.name}`);
    del.addEventListener('click', () => remove([room.id]));
    const device = room.type === 'video' ? (room.deviceModel ? `${room.deviceModel}${room.deviceVersion ? ` ${room.deviceVersion}` : ''}` : w('notRegistered')) : '—';
    const row = el(
      'tr',
      {},
      el('td', {}, box),
      el('td', {}, room.name),
      el('td', {}, room.type === 'video' ? w('video') : w('normal')),
      el('td', {}, room.account ?? '—'),
      el('td', { className: 'device' }, device),
      el('td', {}, new Date(room.createdAt).toLocaleDateString(document.documentElement.lang)),
      el('td', { className: 'actions' }, edit, ' ', del),
    );
    row.dataset.room = room.name;
    return row;
  });
  const table = el(
    'table',
    { id: 'rooms-table' },
    el('caption', {}, w('total', { total: String(rooms.length) })),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, el('span', { className: 'visually-hidden' }, w('selectColumn'))), ...(['name', 'type', 'account', 'device', 'created', 'actions'] as const).map((k) => el('th', { scope: 'col' }, w(k))))),
    el('tbody', {}, ...rows),
  );
  root.replaceChildren(
    el('h1', {}, w('title')),
    el('section', { className: 'panel' }, el('h2', {}, editing ? w('editRoom', { name: editing.name }) : w('newRoom')), form),
    el('div', { className: 'toolbar' }, search, deleteSelected),
    el('div', { className: 'table-wrap' }, table),
    ...(rooms.length === 0 ? [el('p', { className: 'empty' }, w('none'))] : []),
  );
}
