/**
 * The "rooms" page (spec "Rooms and meetings"): the physical rooms — normal, or video bound to
 * the account of the terminal in the room, listed with that terminal's model and version from
 * its registration — with search, multi-select delete (confirmed), and one form to add a room
 * or change the one being edited; the server's refusal is shown by its field. The list and
 * form mechanics are ./editable-list.ts, shared with the VMRs page.
 */
import { api } from './api.ts';
import { type ListView, renderEditableList, searchQuery } from './editable-list.ts';
import { el, field } from './form-fields.ts';
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

const view: ListView<Room> = { q: '', selected: new Set<number>(), editing: undefined };

export async function renderRooms(root: HTMLElement, onError: (error: unknown) => void): Promise<void> {
  const [rooms, accounts] = await Promise.all([
    api<Room[]>('GET', `/rooms${searchQuery(view)}`),
    api<{ items: { number: string; name: string }[] }>('GET', '/accounts?pageSize=500&sort=number'),
  ]);

  // The form's controls: a new room, or the one being changed.
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

  renderEditableList({
    root,
    view,
    items: rooms,
    w,
    prefix: 'room',
    path: '/rooms',
    heading: editing ? w('editRoom', { name: editing.name }) : w('newRoom'),
    controls: [field('room-name', w('name'), name), field('room-type', w('type'), type), accountField, accountList],
    refusalFields: { name: 'room-name', type: 'room-type', account: 'room-account' },
    body: () => ({ name: name.value.trim(), type: type.value, account: type.value === 'video' ? account.value.trim() || null : null }),
    focusOnEdit: 'room-name',
    columns: [
      { label: w('name'), cell: (room) => room.name },
      { label: w('type'), cell: (room) => (room.type === 'video' ? w('video') : w('normal')) },
      { label: w('account'), cell: (room) => room.account ?? '—' },
      {
        label: w('device'),
        className: 'device',
        cell: (room) => (room.type === 'video' ? (room.deviceModel ? `${room.deviceModel}${room.deviceVersion ? ` ${room.deviceVersion}` : ''}` : w('notRegistered')) : '—'),
      },
      { label: w('created'), cell: (room) => new Date(room.createdAt).toLocaleDateString(document.documentElement.lang) },
    ],
    names: { select: (room) => room.name, action: (room) => room.name, key: (room) => room.name },
    again: () => renderRooms(root, onError).catch(onError),
    onError,
  });
}
