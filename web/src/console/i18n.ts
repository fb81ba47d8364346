/**
 * The console's words in Chinese (zh-CN) and English: every visible string, by key. The choice
 * is kept in localStorage and sent to the API as Accept-Language, so the server's error
 * messages come back in the same language.
 */
export const STRINGS = {
  en: {
    product: 'vcbox video conferencing',
    language: 'Language',
    username: 'User name',
    password: 'Password',
    login: 'Log in',
    logout: 'Log out',
    loginTitle: 'Administrator login',
    sessionEnded: 'Your session ended (30 minutes without activity). Log in again.',
    changePasswordTitle: 'Choose a new password',
    changePasswordHint: 'The first password must be changed before you go on (6 to 16 characters).',
    currentPassword: 'Current password',
    newPassword: 'New password',
    confirmPassword: 'New password again',
    save: 'Save',
    navDashboard: 'Dashboard',
    navLive: 'Live meetings',
    liveTitle: 'Live meetings',
    noMeetings: 'No meeting is running now.',
    participants: 'Participants',
    name: 'Name',
    type: 'Type',
    role: 'Role',
    codec: 'Audio',
    quality: 'Network',
    actions: 'Actions',
    lock: 'Lock',
    unlock: 'Unlock',
    locked: 'Locked',
    muteAll: 'Mute all',
    unmuteAll: 'Unmute all',
    mute: 'Mute',
    unmute: 'Unmute',
    muted: 'muted',
    remove: 'Remove',
    confirmRemove: 'Remove {name} from the meeting? Their call ends.',
    layout: 'Layout',
    layoutAuto: 'Automatic',
    layoutSingle: 'Speaker only',
    pin: 'Big pane',
    pinNone: 'Voice activated',
    good: 'good',
    red: 'poor',
    started: 'Started',
    host: 'host',
    guest: 'guest',
    refreshed: 'Updated {time}',
    error: 'The server says: {message}',
    unreachable: 'The server does not answer. Check the network and try again.',
    navOnline: 'Online users',
    onlineTitle: 'Online users',
    onlineTotal: '{users} users online, {devices} devices',
    searchOnline: 'Search name or account',
    model: 'Model',
    version: 'Version',
    address: 'Address',
    transport: 'Transport',
    status: 'Status',
    deviceRegistered: 'registered',
    deviceReachable: 'reachable',
    deviceUnreachable: 'unreachable',
    navAccounts: 'Accounts',
    accountsTitle: 'Accounts',
    accountsTotal: '{total} accounts',
    accountNumber: 'Account',
    email: 'E-mail',
    created: 'Created',
    newAccount: 'New account',
    create: 'Create',
    search: 'Search name, account or e-mail',
    select: 'Select {name}',
    deleteSelected: 'Delete selected',
    confirmDelete: 'Delete {count} accounts? Their terminals can no longer register.',
    importTitle: 'Import from Excel',
    importFile: 'File (.xls or .xlsx, from the template)',
    import: 'Import',
    importSummary: '{created} created, {updated} updated, {failed} failed',
    importFailure: 'Row {row} ({number}): {reason}',
    failureFile: 'Download the failed rows with the reasons, correct them and import again',
    template: 'Download the template',
    export: 'Export all accounts',
    previous: 'Previous',
    next: 'Next',
    pageOf: 'Page {page} of {pages}',
  },
  'zh-CN': {
    product: 'vcbox 视频会议',
    language: '语言',
    username: '用户名',
    password: '密码',
    login: '登录',
    logout: '退出',
    loginTitle: '管理员登录',
    sessionEnded: '会话已结束（30 分钟无操作），请重新登录。',
    changePasswordTitle: '设置新密码',
    changePasswordHint: '首次登录须先修改初始密码（6 到 16 个字符）。',
    currentPassword: '当前密码',
    newPassword: '新密码',
    confirmPassword: '确认新密码',
    save: '保存',
    navDashboard: '仪表盘',
    navLive: '进行中的会议',
    liveTitle: '进行中的会议',
    noMeetings: '当前没有进行中的会议。',
    participants: '参会者',
    name: '名称',
    type: '类型',
    role: '角色',
    codec: '音频',
    quality: '网络',
    actions: '操作',
    lock: '锁定',
    unlock: '解锁',
    locked: '已锁定',
    muteAll: '全体静音',
    unmuteAll: '全体取消静音',
    mute: '静音',
    unmute: '取消静音',
    muted: '已静音',
    remove: '移出',
    confirmRemove: '将 {name} 移出会议？其通话将结束。',
    layout: '布局',
    layoutAuto: '自动',
    layoutSingle: '仅发言人',
    pin: '大画面',
    pinNone: '语音激励',
    good: '良好',
    red: '较差',
    started: '开始时间',
    host: '主持人',
    guest: '访客',
    refreshed: '更新于 {time}',
    error: '服务器提示：{message}',
    unreachable: '服务器无响应，请检查网络后重试。',
    navOnline: '在线用户',
    onlineTitle: '在线用户',
    onlineTotal: '在线用户 {users} 个，设备 {devices} 台',
    searchOnline: '搜索名称或账号',
    model: '型号',
    version: '软件版本',
    address: '地址',
    transport: '传输',
    status: '状态',
    deviceRegistered: '已注册',
    deviceReachable: '可达',
    deviceUnreachable: '不可达',
    navAccounts: '账号',
    accountsTitle: '账号管理',
    accountsTotal: '共 {total} 个账号',
    accountNumber: '账号',
    email: '邮箱',
    created: '创建日期',
    newAccount: '新建账号',
    create: '创建',
    search: '搜索名称、账号或邮箱',
    select: '选择 {name}',
    deleteSelected: '删除所选',
    confirmDelete: '删除 {count} 个账号？其终端将无法再注册。',
    importTitle: '从 Excel 导入',
    importFile: '文件（.xls 或 .xlsx，按模板填写）',
    import: '导入',
    importSummary: '新建 {created} 个，更新 {updated} 个，失败 {failed} 个',
    importFailure: '第 {row} 行（{number}）：{reason}',
    failureFile: '下载失败行及原因，修改后重新导入',
    template: '下载模板',
    export: '导出全部账号',
    previous: '上一页',
    next: '下一页',
    pageOf: '第 {page} / {pages} 页',
  },
} as const;

export type Lang = keyof typeof STRINGS;
export type Key = keyof (typeof STRINGS)['en'];

let current: Lang = (localStorage.getItem('vcbox.lang') as Lang | null) ?? (navigator.language.startsWith('zh') ? 'zh-CN' : 'en');
if (!(current in STRINGS)) current = 'en';

export function lang(): Lang {
  return current;
}

export function setLang(next: Lang): void {
  current = next;
  localStorage.setItem('vcbox.lang', next);
  document.documentElement.lang = next;
}

/** The console's shared words (header, login, the first pages). */
export const t = words(STRINGS);

/**
 * A page's own words (both languages side by side in the page's module, so pages do not
 * crowd this file): `const w = words({ en: {...}, 'zh-CN': {...} })`, then `w('key')`. The
 * Chinese table must have every English key.
 */
export function words<const E extends Record<string, string>>(table: { en: E; 'zh-CN': { [K in keyof E]: string } }): (key: keyof E & string, values?: Record<string, string>) => string {
  return (key, values = {}) => {
    let text: string = table[current][key];
    for (const [name, value] of Object.entries(values)) text = text.replace(`{${name}}`, value);
    return text;
  };
}
