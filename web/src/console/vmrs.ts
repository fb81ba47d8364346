/**
 * The "VMRs" page (spec "Rooms and meetings"): virtual meeting rooms — number, name, owner
 * account, host PIN, guest PIN, capacity and layout (picked by name, with the layout's
 * picture drawn from GET /layouts as on the live-meetings page) — searched, added (number and
 * PINs generated when left empty), changed, deleted one or many (confirmed). The server's
 * refusal is shown by the field it names, in the chosen language. The list and form mechanics
 * are ./editable-list.ts, shared with the rooms page.
 */
import { api } from './api.ts';
import { type ListView, renderEditableList, searchQuery } from './editable-list.ts';
import { el, field } from './form-fields.ts';
import { words } from './i18n.ts';
import { type LayoutPicture, layoutName, picture } from './live-meetings.ts';

const w = words({
  en: {
    title: 'Virtual meeting rooms',
    total: '{total} VMRs',
    newVmr: 'New VMR',
    editVmr: 'Change VMR {number}',
    number: 'Number',
    numberHint: '5 to 12 digits; empty: chosen by the box',
    name: 'Name',
    owner: 'Owner account',
    hostPin: 'Host PIN',
    guestPin: 'Guest PIN',
    pinHint: '4 to 8 digits; empty: generated',
    noGuestPin: 'No guest PIN (callers without a PIN join as guests)',
    capacity: 'Capacity',
    layout: 'Layout',
    actions: 'Actions',
    create: 'Add VMR',
    save: 'Save changes',
    cancelEdit: 'Cancel',
    edit: 'Change',
    delete: 'Delete',
    search: 'Search number, name or owner',
    deleteSelected: 'Delete selected',
    confirmDelete: 'Delete {count} VMRs? Their numbers can no longer be dialled.',
    select: 'Select {name}',
    selectColumn: 'Select',
    none: 'No VMR yet.',
    noPin: 'none',
  },
  'zh-CN': {
    title: '虚拟会议室',
    total: '共 {total} 个虚拟会议室',
    newVmr: '新建虚拟会议室',
    editVmr: '修改虚拟会议室 {number}',
    number: '号码',
    numberHint: '5 到 12 位数字；留空由系统分配',
    name: '名称',
    owner: '所有者账号',
    hostPin: '主持人密码',
    guestPin: '访客密码',
    pinHint: '4 到 8 位数字；留空自动生成',
    noGuestPin: '不设访客密码（无密码呼入者以访客身份入会）',
    capacity: '容量',
    layout: '布局',
    actions: '操作',
    create: '添加虚拟会议室',
    save: '保存修改',
    cancelEdit: '取消',
    edit: '修改',
    delete: '删除',
    search: '搜索号码、名称或所有者',
    deleteSelected: '删除所选',
    confirmDelete: '删除 {count} 个虚拟会议室？其号码将无法再呼入。',
    select: '选择 {name}',
    selectColumn: '选择',
    none: '还没有虚拟会议室。',
    noPin: '无',
  },
});

interface Vmr {
  id: number;
  number: string;
  name: string;
  owner: string | null;
  hostPin: string;
  guestPin: string;
  capacity: number;
  layout: string;
  createdAt: string;
}

const view: ListView<Vmr> = { q: '', selected: new Set<number>(), editing: undefined };
let layouts: LayoutPicture[] = [];

/** The server's field names → this page's control ids. */
const FIELDS = {
  number: 'vmr-number',
  VCBOX_ERR_ROOM_EXISTS: 'vmr-number',
  name: 'vmr-name',
  owner: 'vmr-owner',
  hostPin: 'vmr-host-pin',
  guestPin: 'vmr-guest-pin',
  capacity: 'vmr-capacity',
  layout: 'vmr-layout',
};

export async function renderVmrs(root: HTMLElement, onError: (error: unknown) => void): Promise<void> {
  if (layouts.length === 0) layouts = await api<LayoutPicture[]>('GET', '/layouts');
  const [vmrs, accounts] = await Promise.all([
    api<Vmr[]>('GET', `/vmrs${searchQuery(view)}`),
    api<{ items: { number: string; name: string }[] }>('GET', '/accounts?pageSize=500&sort=number'),
  ]);

  // The form's controls: a new VMR, or the one being changed.
  const editing = view.editing;
  const number = el('input', { inputMode: 'numeric', maxLength: 12, value: editing?.number ?? '' });
  const name = el('input', { maxLength: 128, required: true, value: editing?.name ?? '' });
  const owner = el('input', { inputMode: 'numeric', maxLength: 4, value: editing?.owner ?? '' });
  owner.setAttribute('list', 'vmr-accounts');
  const ownerList = el('datalist', { id: 'vmr-accounts' }, ...accounts.items.map((a) => el('option', { value: a.number }, a.name)));
  const hostPin = el('input', { inputMode: 'numeric', maxLength: 8, autocomplete: 'off', value: editing?.hostPin ?? '' });
  const guestPin = el('input', { inputMode: 'numeric', maxLength: 8, autocomplete: 'off', value: editing?.guestPin ?? '' });
  const noGuestPin = el('input', { type: 'checkbox', id: 'vmr-no-guest-pin', checked: editing !== undefined && editing.guestPin === '' });
  const guestPinField = field('vmr-guest-pin', w('guestPin'), guestPin, w('pinHint'));
  const syncGuestPin = () => {
    guestPin.disabled = noGuestPin.checked;
    if (noGuestPin.checked) guestPin.value = '';
  };
  noGuestPin.addEventListener('change', syncGuestPin);
  syncGuestPin();
  const capacity = el('input', { type: 'number', min: '2', max: '500', step: '1', value: String(editing?.capacity ?? 16) });
  const layout = el('select', {}, ...layouts.map((l) => el('option', { value: l.layout }, layoutName(l.layout))));
  layout.value = editing?.layout ?? 'auto';
  const preview = el('span', { className: 'layout-preview' });
  const drawPreview = () => {
    const chosen = layouts.find((l) => l.layout === layout.value);
    preview.replaceChildren(...(chosen ? [picture(chosen)] : []));
  };
  layout.addEventListener('change', drawPreview);
  drawPreview();
  const layoutField = field('vmr-layout', w('layout'), layout);
  layoutField.insertBefore(preview, layoutField.querySelector('.field-error'));
  // Empty number and PINs are generated on create; the capacity goes as typed (the server says what it accepts).
  const body = () => {
    const sent: Record<string, unknown> = { name: name.value.trim(), owner: owner.value.trim() || null, capacity: capacity.value.trim() === '' ? 16 : Number(capacity.value), layout: layout.value };
    if (number.value.trim() !== '' || editing) sent.number = number.value.trim();
    if (hostPin.value.trim() !== '' || editing) sent.hostPin = hostPin.value.trim();
    if (noGuestPin.checked) sent.guestPin = '';
    else if (guestPin.value.trim() !== '' || editing) sent.guestPin = guestPin.value.trim();
    return sent;
  };

  renderEditableList({
    root,
    view,
    items: vmrs,
    w,
    prefix: 'vmr',
    path: '/vmrs',
    heading: editing ? w('editVmr', { number: editing.number }) : w('newVmr'),
    controls: [
      field('vmr-number', w('number'), number, w('numberHint')),
      field('vmr-name', w('name'), name),
      field('vmr-owner', w('owner'), owner),
      ownerList,
      field('vmr-host-pin', w('hostPin'), hostPin, w('pinHint')),
      guestPinField,
      el('label', { className: 'check' }, noGuestPin, w('noGuestPin')),
      field('vmr-capacity', w('capacity'), capacity),
      layoutField,
    ],
    refusalFields: FIELDS,
    body,
    focusOnEdit: 'vmr-name',
    columns: [
      { label: w('number'), cell: (vmr) => vmr.number },
      { label: w('name'), cell: (vmr) => vmr.name },
      { label: w('owner'), cell: (vmr) => vmr.owner ?? '—' },
      { label: w('hostPin'), cell: (vmr) => vmr.hostPin },
      { label: w('guestPin'), cell: (vmr) => vmr.guestPin || w('noPin') },
      { label: w('capacity'), cell: (vmr) => String(vmr.capacity) },
      { label: w('layout'), cell: (vmr) => layoutName(vmr.layout) },
    ],
    names: { select: (vmr) => `${vmr.number} ${vmr.name}`, action: (vmr) => vmr.number, key: (vmr) => vmr.number },
    again: () => renderVmrs(root, onError).catch(onError),
    onError,
  });
}
