/**
 * Every error code of the appliance, defined once, with its message in English and Chinese.
 *
 * Code elsewhere never builds an Error with free text for something an admin or a caller may
 * see: it calls `createError(code, params)`. The message templates use `{name}` placeholders.
 * Modelled on Fastify's `lib/errors.js` (one table, one factory). What does not live here:
 * SIP status codes (those are protocol, see server/signaling).
 */

export interface ErrorDefinition {
  /** HTTP status the control plane answers with when this error reaches an API caller. */
  readonly statusCode: number;
  readonly en: string;
  readonly zh: string;
}

export const ERRORS = {
  VCBOX_ERR_CONFIG_FILE: {
    statusCode: 500,
    en: 'Cannot read the configuration file {path}: {reason}. Fix or remove the file and start again.',
    zh: '无法读取配置文件 {path}：{reason}。请修正或删除该文件后重新启动。',
  },
  VCBOX_ERR_CONFIG_VALUE: {
    statusCode: 400,
    en: 'Configuration value {field} is invalid: {reason}.',
    zh: '配置项 {field} 无效：{reason}。',
  },
  VCBOX_ERR_DB_TOO_NEW: {
    statusCode: 500,
    en: 'The database {path} has schema version {found}, newer than this software supports ({supported}). Install the matching or a newer version, or restore a backup made by this version.',
    zh: '数据库 {path} 的结构版本为 {found}，高于本软件支持的版本 {supported}。请安装匹配或更新的版本，或恢复由本版本生成的备份。',
  },
  VCBOX_ERR_DB_MIGRATION: {
    statusCode: 500,
    en: 'Database migration {version} ({name}) failed: {reason}. Nothing was changed.',
    zh: '数据库升级 {version}（{name}）失败：{reason}。数据未作任何修改。',
  },
  VCBOX_ERR_SETTING_UNKNOWN: {
    statusCode: 400,
    en: 'Unknown setting {key}.',
    zh: '未知的设置项 {key}。',
  },
  VCBOX_ERR_SETTING_INVALID: {
    statusCode: 400,
    en: 'Setting {key} is invalid: {reason}.',
    zh: '设置项 {key} 无效：{reason}。',
  },
  VCBOX_ERR_SYSTEM_RENDER: {
    statusCode: 500,
    en: 'The settings were saved, but the system file {file} could not be written: {reason}. The previous file is unchanged; save the settings again once the cause is fixed.',
    zh: '设置已保存，但无法写入系统文件 {file}：{reason}。原文件保持不变；排除原因后请重新保存设置。',
  },
  VCBOX_ERR_SYSTEM_APPLY: {
    statusCode: 500,
    en: 'The settings were saved and written to {files}, but applying them failed: "{command}" {reason}. They take effect at the next restart of the box at the latest.',
    zh: '设置已保存并写入 {files}，但应用失败："{command}" {reason}。最迟在设备下次重启后生效。',
  },
  VCBOX_ERR_CERTIFICATE: {
    statusCode: 500,
    en: 'Cannot create the TLS certificate in {dir}: {reason}.',
    zh: '无法在 {dir} 生成 TLS 证书：{reason}。',
  },
  VCBOX_ERR_LISTEN: {
    statusCode: 500,
    en: 'Cannot listen on {transport} {address}:{port}: {reason}. Is another program using that port? Change the port in the settings or stop the other program.',
    zh: '无法在 {transport} {address}:{port} 上监听：{reason}。该端口是否被其他程序占用？请在设置中更换端口或停止该程序。',
  },
  // Service ports applied live, the box's HTTPS certificate, Prometheus metrics.
  VCBOX_ERR_SIGNALING_UNAVAILABLE: {
    statusCode: 503,
    en: 'The SIP signaling service is not reachable: {reason}. Check that the vcbox-signaling service is running; it applies the stored settings when it starts.',
    zh: '无法连接 SIP 信令服务：{reason}。请检查 vcbox-signaling 服务是否在运行；它启动时会应用已保存的设置。',
  },
  VCBOX_ERR_CERT_KEY: {
    statusCode: 400,
    en: 'The private key cannot be used: {reason}. Paste the private key of the certificate in PEM form, not encrypted (it starts with -----BEGIN PRIVATE KEY-----, or BEGIN RSA / EC PRIVATE KEY). Nothing was changed.',
    zh: '私钥无法使用：{reason}。请粘贴该证书的 PEM 格式私钥，且不能加密（以 -----BEGIN PRIVATE KEY----- 或 BEGIN RSA / EC PRIVATE KEY 开头）。未作任何修改。',
  },
  VCBOX_ERR_CERT_CHAIN: {
    statusCode: 400,
    en: 'The certificate chain cannot be used: {reason}. Paste the server certificate and then its intermediate certificates, each in PEM form (-----BEGIN CERTIFICATE----- …). Nothing was changed.',
    zh: '证书链无法使用：{reason}。请依次粘贴服务器证书及其中间证书，均为 PEM 格式（-----BEGIN CERTIFICATE----- …）。未作任何修改。',
  },
  VCBOX_ERR_CERT_KEY_MISMATCH: {
    statusCode: 400,
    en: 'The private key does not belong to any of the certificates given ({subjects}). Import the key that was created together with the certificate request. Nothing was changed.',
    zh: '私钥与所给的证书（{subjects}）都不匹配。请导入与证书请求一同生成的私钥。未作任何修改。',
  },
  VCBOX_ERR_CERT_VALIDITY: {
    statusCode: 400,
    en: 'The certificate "{subject}" is valid from {validFrom} to {validTo}: it is {problem} (now is {now}). Import a certificate that is valid today. Nothing was changed.',
    zh: '证书“{subject}”的有效期为 {validFrom} 至 {validTo}，当前（{now}）{problemZh}。请导入当前有效的证书。未作任何修改。',
  },
  VCBOX_ERR_CERT_STORE: {
    statusCode: 500,
    en: 'The certificate was valid but could not be saved in {dir}: {reason}. The previous certificate is still in use.',
    zh: '证书有效，但无法保存到 {dir}：{reason}。仍在使用原证书。',
  },
  VCBOX_ERR_METRICS_TOKEN: {
    statusCode: 401,
    en: 'The metrics need the bearer token: send "Authorization: Bearer <token>". An administrator creates or rotates it in the console (Settings → Logs → Prometheus metrics) or with POST /api/v1/settings/metrics-token.',
    zh: '读取监控指标需要 Bearer 令牌：请发送“Authorization: Bearer <令牌>”。管理员可在控制台（系统设置 → 日志 → Prometheus 监控指标）或通过 POST /api/v1/settings/metrics-token 生成或更换令牌。',
  },
  VCBOX_ERR_METRICS_OFF: {
    statusCode: 401,
    en: 'The metrics are off: no token has been created. An administrator creates one in the console (Settings → Logs → Prometheus metrics) or with POST /api/v1/settings/metrics-token, and gives it to the Prometheus scrape job as its bearer token.',
    zh: '监控指标未开启：尚未生成令牌。管理员可在控制台（系统设置 → 日志 → Prometheus 监控指标）或通过 POST /api/v1/settings/metrics-token 生成令牌，并将其配置为 Prometheus 抓取任务的 Bearer 令牌。',
  },
  VCBOX_ERR_MEDIA_WORKER: {
    statusCode: 500,
    en: 'The media worker could not start: {reason}. Run scripts/setup.sh to build it.',
    zh: '媒体进程无法启动：{reason}。请运行 scripts/setup.sh 进行构建。',
  },
  VCBOX_ERR_MEDIA_CODEC: {
    statusCode: 500,
    en: 'The audio codec addon is not usable: {reason}.',
    zh: '音频编解码模块不可用：{reason}。',
  },
  VCBOX_ERR_SIP_REQUEST_FAILED: {
    statusCode: 500,
    en: 'The box failed while handling this {method} (incident {incident}); try again, and report the incident if it repeats.',
    zh: '设备处理此 {method} 请求时出错（事件编号 {incident}）；请重试，如再次出现请报告该事件编号。',
  },
  VCBOX_ERR_MEDIA_UNAVAILABLE: {
    statusCode: 503,
    en: 'The media service is not reachable: {reason}. Check that the vcbox-media service is running.',
    zh: '媒体服务无法连接：{reason}。请检查 vcbox-media 服务是否在运行。',
  },
  VCBOX_ERR_MEDIA_SDP: {
    statusCode: 488,
    en: 'The call offer cannot be accepted: {reason}.',
    zh: '无法接受呼叫的媒体协商：{reason}。',
  },
  VCBOX_ERR_MEETING_NOT_LIVE: {
    statusCode: 404,
    en: 'Meeting {id} has nobody in it.',
    zh: '会议 {id} 当前没有人参加。',
  },
  VCBOX_ERR_SESSION_CLOSED: {
    statusCode: 409,
    en: 'The participant has left meeting {number} already; join again to take part.',
    zh: '该参会者已离开会议 {number}；如需参加请重新加入。',
  },
  VCBOX_ERR_NOT_REGISTERED: {
    statusCode: 409,
    en: 'Account {account} has no registered terminal to call; it must be online (registered) to be invited.',
    zh: '账号 {account} 没有已注册的终端，无法呼叫；须在线（已注册）才能邀请。',
  },
  VCBOX_ERR_INVITE_FAILED: {
    statusCode: 502,
    en: 'The terminal of account {account} did not join: {reason}.',
    zh: '账号 {account} 的终端未能加入：{reason}。',
  },
  VCBOX_ERR_ENTRY_LOCKED_OUT: {
    statusCode: 429,
    en: 'Too many wrong meeting IDs or PINs came from your address: meetings refuse it for {seconds} more seconds. Check the meeting ID and PIN in your invitation, then try again.',
    zh: '您的地址输入错误的会议号或密码次数过多：{seconds} 秒内无法加入会议。请核对邀请中的会议号和密码后再试。',
  },
  VCBOX_ERR_MEETING_PIN_LOCKED_OUT: {
    statusCode: 429,
    en: 'Too many wrong PINs were entered for meeting {number}: it accepts no PIN for {seconds} more seconds. Try again then, or ask the host to invite you from the console.',
    zh: '会议 {number} 的密码输错次数过多：{seconds} 秒内不接受密码。请稍后再试，或请主持人从管理台邀请您。',
  },
  VCBOX_ERR_GUEST_ACCESS_OFF: {
    statusCode: 403,
    en: 'Guest access is off on this box: only callers with an account may join meetings. Join from a registered terminal with your account, or ask the administrator to allow guest access (call settings).',
    zh: '本设备已关闭访客接入：只有拥有账号的呼叫方可以加入会议。请使用已注册账号的终端加入，或请管理员开启访客接入（通话设置）。',
  },
  VCBOX_ERR_MEETING_LOCKED: {
    statusCode: 409,
    en: 'Meeting {number} is locked: nobody new may enter, invited or not. Unlock it first, then invite.',
    zh: '会议 {number} 已锁定：任何新参会方（包括被邀请方）都无法加入。请先解锁再邀请。',
  },
  VCBOX_ERR_PARTICIPANT_NOT_FOUND: {
    statusCode: 404,
    en: 'Participant {id} is not in meeting {meeting}.',
    zh: '参会者 {id} 不在会议 {meeting} 中。',
  },
  VCBOX_ERR_WATCH_NOT_SIP: {
    statusCode: 400,
    en: '{name} joined from a browser, which shows every site by itself; choosing the site to watch is for SIP terminals.',
    zh: '{name} 通过浏览器入会，浏览器会自行显示所有会场；选看会场仅适用于 SIP 终端。',
  },
  VCBOX_ERR_NO_PRESENTATION: {
    statusCode: 409,
    en: 'Nobody presents content in meeting {meeting} now, so there is no presentation to stop.',
    zh: '会议 {meeting} 当前没有人在共享内容，没有可停止的演示。',
  },
  VCBOX_ERR_PARTICIPANT_CANNOT_PRESENT: {
    statusCode: 409,
    en: '{name} cannot present: the call has no content stream (a second video line with BFCP floor control). Give the floor to a participant whose terminal shares content.',
    zh: '{name} 无法演示：其呼叫没有内容流（带 BFCP 发言权控制的第二路视频）。请把发言权交给终端支持内容共享的参会者。',
  },
  VCBOX_ERR_CONTENT_UNAVAILABLE: {
    statusCode: 503,
    en: "Content sharing is not available on this box now: {reason}. The administrator finds why in the SIP service's log for the BFCP floor control (e.g. a BFCP port that could not be bound) and restarts the box once it is fixed.",
    zh: '本设备当前无法进行内容共享：{reason}。管理员可在 SIP 服务日志中查看 BFCP 发言权控制的原因（如 BFCP 端口无法绑定），修复后请重启设备。',
  },
  VCBOX_ERR_PROMPT_INVALID: {
    statusCode: 400,
    en: 'The prompt file cannot be used: {reason}. Upload a 16-bit PCM WAV file (mono or stereo, 8-48 kHz) of at most {maxSeconds} seconds.',
    zh: '提示音文件无法使用：{reason}。请上传 16 位 PCM 格式的 WAV 文件（单声道或立体声，8-48 kHz），时长不超过 {maxSeconds} 秒。',
  },
  VCBOX_ERR_PROMPT_UNKNOWN: {
    statusCode: 404,
    en: 'There is no IVR prompt {language}/{name}. The prompts are listed by GET /api/v1/ivr/prompts.',
    zh: '没有 IVR 提示音 {language}/{name}。提示音列表见 GET /api/v1/ivr/prompts。',
  },
  VCBOX_ERR_BACKUP_NOT_FOUND: {
    statusCode: 404,
    en: 'There is no backup named {name}. The backups are listed by GET /api/v1/backups.',
    zh: '没有名为 {name} 的备份。备份列表见 GET /api/v1/backups。',
  },
  VCBOX_ERR_BACKUP_EXISTS: {
    statusCode: 409,
    en: 'A backup named {name} already exists. Choose another name or delete the old backup first.',
    zh: '名为 {name} 的备份已存在。请换一个名称，或先删除旧备份。',
  },
  VCBOX_ERR_BACKUP_BUSY: {
    statusCode: 409,
    en: 'A {operation} is already running; try again when it has finished.',
    zh: '正在进行{operation}；请在其完成后重试。',
  },
  VCBOX_ERR_BACKUP_PASSPHRASE: {
    statusCode: 422,
    en: 'The passphrase does not open this backup (or the file\'s header was changed). Nothing was changed. Type the passphrase the backup was made with.',
    zh: '该口令无法打开此备份（或文件头已被改动）。数据未作任何修改。请输入制作该备份时使用的口令。',
  },
  VCBOX_ERR_BACKUP_PASSPHRASE_NEEDED: {
    statusCode: 400,
    en: 'A backup passphrase is needed: {reason}. Backups are encrypted with it; keep it safe — without it the backup cannot be restored.',
    zh: '需要备份口令：{reason}。备份用该口令加密，请妥善保管——没有它将无法恢复备份。',
  },
  VCBOX_ERR_BACKUP_INVALID: {
    statusCode: 422,
    en: 'The file is not a usable vcbox backup: {reason}. Nothing was changed. Upload a backup file downloaded from a vcbox (Backup….vcbackup, or .tar.gz from an earlier version), complete and unmodified.',
    zh: '该文件不是可用的 vcbox 备份：{reason}。数据未作任何修改。请上传从 vcbox 下载的完整且未经修改的备份文件（Backup….vcbackup，或早期版本的 .tar.gz）。',
  },
  VCBOX_ERR_BACKUP_TOO_LARGE: {
    statusCode: 413,
    en: 'The uploaded file is larger than {limit}, the most a backup upload may be. Nothing was changed.',
    zh: '上传的文件超过备份上传上限 {limit}。数据未作任何修改。',
  },
  VCBOX_ERR_BACKUP_TOO_NEW: {
    statusCode: 409,
    en: 'The backup was made by vcbox {productVersion} with database schema {found}; this box (vcbox {version}) knows schema {supported} at most and cannot go back. Upgrade this box to vcbox {productVersion} or newer, then restore. Nothing was changed.',
    zh: '该备份由 vcbox {productVersion} 生成，数据库结构版本为 {found}；本设备（vcbox {version}）最高支持版本 {supported}，无法降级恢复。请先将本设备升级到 vcbox {productVersion} 或更新版本后再恢复。数据未作任何修改。',
  },
  VCBOX_ERR_BACKUP_SPACE: {
    statusCode: 507,
    en: 'Not enough free disk space in {dir}: the {operation} needs about {needed}, {free} are free. Delete old backups or free space, then try again. Nothing was changed.',
    zh: '{dir} 的可用磁盘空间不足：{operation}约需 {needed}，当前可用 {free}。请删除旧备份或释放空间后重试。数据未作任何修改。',
  },
  VCBOX_ERR_BACKUP_FAILED: {
    statusCode: 500,
    en: 'The backup could not be made: {reason}. No backup file was left behind.',
    zh: '无法生成备份：{reason}。未留下不完整的备份文件。',
  },
  VCBOX_ERR_RESTORE_FAILED: {
    statusCode: 500,
    en: 'The restore failed while {step}: {reason}. The box is unchanged (database and files as before the restore).',
    zh: '恢复在{step}时失败：{reason}。设备未作任何修改（数据库和文件保持恢复前的状态）。',
  },
  VCBOX_ERR_UPGRADE_UNAVAILABLE: {
    statusCode: 409,
    en: 'This box cannot be upgraded from the console: it runs from a source folder, not from an installation (no install root in its configuration, upgrade.installRoot). Install it with install.sh, or update the source folder yourself.',
    zh: '本设备无法通过控制台升级：它从源代码目录运行，而不是从安装目录运行（配置中没有安装目录 upgrade.installRoot）。请用 install.sh 安装，或自行更新源代码目录。',
  },
  VCBOX_ERR_UPGRADE_BUSY: {
    statusCode: 409,
    en: 'An upgrade to vcbox {version} is in progress ({state}, since {since}); wait until it has finished.',
    zh: '正在升级到 vcbox {version}（{state}，开始于 {since}）；请等待其完成。',
  },
  VCBOX_ERR_UPGRADE_TOO_LARGE: {
    statusCode: 413,
    en: 'The uploaded file is larger than {limit}, the most a release package may be. Nothing was changed.',
    zh: '上传的文件超过系统升级包上限 {limit}。未作任何修改。',
  },
  VCBOX_ERR_UPGRADE_FOREIGN: {
    statusCode: 422,
    en: 'The file is not a vcbox release package: {reason}. Nothing was changed. Upload the release file (.tar.gz) you got from the vendor.',
    zh: '该文件不是 vcbox 系统升级包：{reason}。未作任何修改。请上传从厂商获得的升级文件（.tar.gz）。',
  },
  VCBOX_ERR_UPGRADE_TRUNCATED: {
    statusCode: 422,
    en: 'The release package ends too early: the file is truncated (an interrupted download or copy). Nothing was changed. Download or copy it again, completely.',
    zh: '该升级包不完整：文件被截断（下载或复制中断）。未作任何修改。请重新完整下载或复制。',
  },
  VCBOX_ERR_UPGRADE_SIGNATURE: {
    statusCode: 422,
    en: 'The release package\'s signature is not valid: it was not signed by the vendor, or its manifest was changed after signing. Nothing was changed. Use the package exactly as the vendor published it.',
    zh: '升级包的签名无效：它不是由厂商签名的，或其清单在签名后被修改过。未作任何修改。请使用厂商发布的原始升级包。',
  },
  VCBOX_ERR_UPGRADE_TAMPERED: {
    statusCode: 422,
    en: 'The file {path} in the release package does not match the signed manifest ({reason}): the package was changed or damaged after it was built. Nothing was changed. Download it again from the vendor.',
    zh: '升级包中的文件 {path} 与已签名的清单不符（{reason}）：升级包在生成后被修改或损坏。未作任何修改。请从厂商处重新下载。',
  },
  VCBOX_ERR_UPGRADE_INVALID: {
    statusCode: 422,
    en: 'The release package cannot be used: {reason}. Nothing was changed.',
    zh: '该升级包无法使用：{reason}。未作任何修改。',
  },
  VCBOX_ERR_UPGRADE_OLDER: {
    statusCode: 409,
    en: 'The package holds vcbox {version} (built {buildTime}), which is older than the vcbox {current} this box runs. An upgrade only goes forward; nothing was changed.',
    zh: '该升级包为 vcbox {version}（{buildTime} 生成），比本设备正在运行的 vcbox {current} 旧。升级只能升到更新的版本；未作任何修改。',
  },
  VCBOX_ERR_UPGRADE_SAME: {
    statusCode: 409,
    en: 'The package holds vcbox {version} (built {buildTime}), the version this box already runs. Nothing was changed.',
    zh: '该升级包为 vcbox {version}（{buildTime} 生成），与本设备正在运行的版本相同。未作任何修改。',
  },
  VCBOX_ERR_UPGRADE_NODE: {
    statusCode: 409,
    en: 'vcbox {version} needs Node.js {required}; this box has Node.js {node}, which the upgrade does not replace. Reinstall the box with that version\'s install.sh instead. Nothing was changed.',
    zh: 'vcbox {version} 需要 Node.js {required}；本设备为 Node.js {node}，系统升级不会更换它。请改用该版本的 install.sh 重新安装。未作任何修改。',
  },
  VCBOX_ERR_UPGRADE_SCHEMA: {
    statusCode: 409,
    en: 'vcbox {version} knows database schema {schema} at most, but this box\'s database is already at schema {database}; it could not read it. Nothing was changed.',
    zh: 'vcbox {version} 最高支持数据库结构版本 {schema}，而本设备的数据库已是版本 {database}，它无法读取。未作任何修改。',
  },
  VCBOX_ERR_UPGRADE_ROLLED_BACK: {
    statusCode: 500,
    en: 'vcbox {version} was installed but failed its check ({reason}); the box went back to vcbox {previous} with its database as it was before the upgrade.',
    zh: 'vcbox {version} 已安装，但未通过检查（{reason}）；设备已回退到 vcbox {previous}，数据库恢复为升级前的状态。',
  },
  VCBOX_ERR_UPGRADE_CHECK_FAILED: {
    statusCode: 500,
    en: 'vcbox {version} was unpacked but failed its self-check ({reason}); the box stays on vcbox {previous} and nothing of it was changed.',
    zh: 'vcbox {version} 已解包，但未通过自检（{reason}）；设备保持 vcbox {previous}，未作任何修改。',
  },
  VCBOX_ERR_UPGRADE_FAILED: {
    statusCode: 500,
    en: 'The upgrade to vcbox {version} failed while {step}: {reason}. The box now runs {running}; check its services (the logs say more) before you try again.',
    zh: '升级到 vcbox {version} 时在{stepZh}时失败：{reason}。设备当前运行 {running}；请先检查其服务（日志中有详细信息）再重试。',
  },
  VCBOX_ERR_UPGRADE_LAYOUT: {
    statusCode: 409,
    en: 'The installation in {root} has no "current" release link (it was installed by an older install.sh), so an upgrade could not be rolled back. Run install.sh of this version once, then upgrade from the console.',
    zh: '{root} 中的安装没有 "current" 版本链接（由旧版 install.sh 安装），升级失败时将无法回退。请先运行一次本版本的 install.sh，再通过控制台升级。',
  },
  VCBOX_ERR_MAINTENANCE_REFUSED: {
    statusCode: 400,
    en: 'The maintenance job in {file} was refused and removed, nothing was done: {reason}. Only the console writes that file; ask for the job again there (upgrade, restart or reboot), and find out what else wrote it.',
    zh: '{file} 中的维护任务已被拒绝并删除，未执行任何操作：{reason}。该文件只应由控制台写入；请在控制台重新发起该任务（升级、重启或重新启动），并查明是谁写入了该文件。',
  },
  VCBOX_ERR_MAINTENANCE_UNSAFE: {
    statusCode: 500,
    en: 'The maintenance job stopped before changing anything it should not: {reason}. Something other than vcbox changed its folders; check {dir} and the system log (journalctl -u vcbox-maintenance).',
    zh: '维护任务在改动不应改动的内容之前已停止：{reason}。有 vcbox 以外的程序改动了其目录；请检查 {dir} 和系统日志（journalctl -u vcbox-maintenance）。',
  },
  VCBOX_ERR_CONFIRM_REQUIRED: {
    statusCode: 400,
    en: '{action} must be confirmed: send "confirm": true. {consequence}',
    zh: '{actionZh}需要确认：请发送 "confirm": true。{consequenceZh}',
  },
  VCBOX_ERR_RESTART_UNAVAILABLE: {
    statusCode: 409,
    en: 'Nothing on this machine can restart the services: the box runs neither as installed systemd services (install.sh; system.systemd) nor under the run command (scripts/run.sh). Restart its processes yourself.',
    zh: '本机上没有可以重启服务的管理者：设备既不是以已安装的 systemd 服务运行（install.sh；system.systemd），也不是由运行命令（scripts/run.sh）启动的。请自行重启其进程。',
  },
  VCBOX_ERR_ACCOUNT_INVALID: {
    statusCode: 400,
    en: 'Account field {field} is invalid: {reason}.',
    zh: '账号字段 {field} 无效：{reason}。',
  },
  VCBOX_ERR_ACCOUNT_EXISTS: {
    statusCode: 409,
    en: 'Account {number} already exists.',
    zh: '账号 {number} 已存在。',
  },
  VCBOX_ERR_ACCOUNT_LIMIT: {
    statusCode: 409,
    en: 'The box already holds {limit} accounts, the most it supports. Delete unused accounts first.',
    zh: '账号数量已达上限 {limit}。请先删除不再使用的账号。',
  },
  VCBOX_ERR_VALIDATION: {
    statusCode: 400,
    en: '{field} is invalid: {reason}.',
    zh: '{field} 无效：{reason}。',
  },
  VCBOX_ERR_AUTH_REQUIRED: {
    statusCode: 401,
    en: 'Please log in (no session, or it ended after 30 idle minutes).',
    zh: '请登录（没有会话，或空闲超过 30 分钟后会话已结束）。',
  },
  VCBOX_ERR_LOGIN_FAILED: {
    statusCode: 401,
    en: 'Wrong user name or password.',
    zh: '用户名或密码错误。',
  },
  VCBOX_ERR_LOGIN_LOCKED: {
    statusCode: 423,
    en: 'Too many wrong passwords: this user is locked for {seconds} more seconds.',
    zh: '密码错误次数过多：该用户将在 {seconds} 秒后解锁。',
  },
  VCBOX_ERR_CSRF: {
    statusCode: 403,
    en: 'The request lacks the session\'s X-CSRF-Token header; reload the console and try again.',
    zh: '请求缺少会话的 X-CSRF-Token 头；请刷新控制台后重试。',
  },
  VCBOX_ERR_FORBIDDEN_ROLE: {
    statusCode: 403,
    en: 'Your role ({role}) may only read; ask an administrator.',
    zh: '您的角色（{role}）只能查看；请联系管理员。',
  },
  VCBOX_ERR_PASSWORD_CHANGE: {
    statusCode: 400,
    en: 'The password was not changed: {reason}.',
    zh: '密码未修改：{reasonZh}。',
  },
  VCBOX_ERR_CURRENT_PASSWORD_REQUIRED: {
    statusCode: 400,
    en: 'currentPassword is required: the first start is over, so changing the password here needs the current one.',
    zh: '需要填写当前密码（currentPassword）：初始设置已完成，在此修改密码须输入当前密码。',
  },
  VCBOX_ERR_ADMIN_EXISTS: {
    statusCode: 409,
    en: 'An administrator named {username} already exists.',
    zh: '管理员 {username} 已存在。',
  },
  VCBOX_ERR_ACCOUNT_NOT_FOUND: {
    statusCode: 404,
    en: 'No account {number}.',
    zh: '账号 {number} 不存在。',
  },
  VCBOX_ERR_RESET_LINK: {
    statusCode: 400,
    en: 'This password reset link is invalid, used or older than 10 minutes. Ask for a new one.',
    zh: '该密码重置链接无效、已使用或已超过 10 分钟。请重新申请。',
  },
  VCBOX_ERR_CAPTCHA: {
    statusCode: 400,
    en: 'The characters do not match the picture (or it is older than 5 minutes); try a new picture.',
    zh: '验证码不正确（或已超过 5 分钟）；请换一张图片重试。',
  },
  VCBOX_ERR_MAIL: {
    statusCode: 502,
    en: 'The mail could not be sent through {server}: {reason}. Check the SMTP settings and send a test mail.',
    zh: '无法通过 {server} 发送邮件：{reason}。请检查 SMTP 设置并发送测试邮件。',
  },
  VCBOX_ERR_SMTP_NOT_SET: {
    statusCode: 400,
    en: 'No SMTP server is set: enter the server, port and sender address in the SMTP settings (or in the test request) first.',
    zh: '尚未设置 SMTP 服务器：请先在 SMTP 设置（或测试请求）中填写服务器、端口和发件人地址。',
  },
  VCBOX_ERR_SMTP_CONNECT: {
    statusCode: 502,
    en: 'Cannot reach the SMTP server {server}: {reason}. Check the server name and port (usually 25 or 587; 465 for SSL) and that no firewall between the box and the server blocks it.',
    zh: '无法连接 SMTP 服务器 {server}：{reason}。请检查服务器名称和端口（通常为 25 或 587；SSL 为 465），以及设备与服务器之间没有防火墙阻挡。',
  },
  VCBOX_ERR_SMTP_TLS: {
    statusCode: 502,
    en: 'The secure connection ({security}) to the SMTP server {server} failed: {reason}. SSL is for port 465, TLS (STARTTLS) for 25 or 587 — check that the secure-connection choice matches the port; if the server uses a certificate of your own authority, add that certificate to the setting tls.trustedCertificates.',
    zh: '与 SMTP 服务器 {server} 的安全连接（{security}）失败：{reason}。SSL 用于 465 端口，TLS（STARTTLS）用于 25 或 587 端口——请确认安全连接方式与端口相符；如服务器使用贵单位自签的证书，请将该证书加入设置项 tls.trustedCertificates。',
  },
  VCBOX_ERR_SMTP_PASSWORD_NEEDED: {
    statusCode: 400,
    en: 'Type the password to test another server: the test changes {changed} from the saved SMTP settings, and the saved password is only sent to the saved server. Nothing was sent.',
    zh: '测试其他服务器时请输入密码：本次测试改动了已保存 SMTP 设置中的 {changed}，已保存的密码只会发送给已保存的服务器。未发送任何内容。',
  },
  VCBOX_ERR_SMTP_AUTH: {
    statusCode: 502,
    en: 'The SMTP server {server} did not accept the login (user "{user}"): {reason}. Check the SMTP user name and password; some servers want the full e-mail address as the user name.',
    zh: 'SMTP 服务器 {server} 未接受登录（用户 "{user}"）：{reason}。请检查 SMTP 用户名和密码；部分服务器要求以完整的邮箱地址作为用户名。',
  },
  VCBOX_ERR_SMTP_REFUSED: {
    statusCode: 502,
    en: 'The SMTP server {server} refused the mail: {reason}. Check the sender address ({sender}) — many servers accept only their own domain or the logged-in user as sender — and the recipient address.',
    zh: 'SMTP 服务器 {server} 拒收该邮件：{reason}。请检查发件人地址（{sender}）——许多服务器只接受本域或登录用户作为发件人——以及收件人地址。',
  },
  VCBOX_ERR_BUSY: {
    statusCode: 503,
    en: 'The box is checking too many passwords at once; try again in a few seconds.',
    zh: '设备正在同时校验过多的密码；请几秒后重试。',
  },
  VCBOX_ERR_RATE_LIMITED: {
    statusCode: 429,
    en: 'Too many requests from your address; wait {seconds} seconds.',
    zh: '您的地址请求过多；请等待 {seconds} 秒。',
  },
  // The browser join page's WebSocket (server/control-plane/join-socket/): what a frame or a
  // connection is refused for, in words the page (or whoever drives the socket) can show.
  VCBOX_ERR_JOIN_REQUEST: {
    statusCode: 400,
    en: 'The join request is invalid: {problem}. A request is a JSON object {"id", "method", "params"} with one of the methods join, connectTransport, produce, consume, consumeComposed, resume, shareContent, stopContent, leave; reload the join page if this keeps happening.',
    zh: '入会请求无效：{problem}。请求应为 JSON 对象 {"id", "method", "params"}，method 为 join、connectTransport、produce、consume、consumeComposed、resume、shareContent、stopContent、leave 之一；如反复出现请刷新入会页面。',
  },
  VCBOX_ERR_CONTENT_NOT_SHARING: {
    statusCode: 409,
    en: 'This participant is not sharing content, so there is nothing to stop. Only the presenter can stop its own share.',
    zh: '该参会者没有在共享内容，无需停止。只有演示者本人可以停止自己的共享。',
  },
  VCBOX_ERR_JOIN_ORIGIN: {
    statusCode: 403,
    en: "The join connection was opened by a page from {origin}, which is not this box. Open the join page from the box's own address (http(s)://<box address>/join/).",
    zh: '入会连接由来自 {origin} 的页面发起，该页面不属于本设备。请从设备自己的地址打开入会页面（http(s)://<设备地址>/join/）。',
  },
  VCBOX_ERR_JOIN_CONNECTIONS: {
    statusCode: 429,
    en: 'Too many join connections from your address {address}: at most {limit} at a time. Close other join pages opened from this network, or wait until someone leaves.',
    zh: '来自您的地址 {address} 的入会连接过多：同一时间最多 {limit} 个。请关闭本网络中其他已打开的入会页面，或等待有人离开。',
  },
  VCBOX_ERR_JOIN_PEER_LIMIT: {
    statusCode: 429,
    en: 'Refused: this participant already has {count} {what}, the most one participant may have is {limit}. Leave the meeting and join again if the page lost track of them.',
    zh: '已拒绝：该参会者已有 {count} 个 {what}，每位参会者最多 {limit} 个。如页面状态异常，请离开会议后重新加入。',
  },
  VCBOX_ERR_JOIN_BUSY: {
    statusCode: 429,
    en: 'Too many requests of this join page are still waiting for their answers (at most {limit}); wait for the answers before sending more.',
    zh: '此入会页面尚有过多请求未得到应答（最多 {limit} 个）；请等待应答后再发送。',
  },
  VCBOX_ERR_SPREADSHEET: {
    statusCode: 400,
    en: 'The file was not imported: {reason}. Nothing was changed.',
    zh: '文件未导入：{reason}。数据未作任何修改。',
  },
  VCBOX_ERR_ROOM: {
    statusCode: 400,
    en: 'Room field {field} is invalid: {reason}.',
    zh: '会议室字段 {field} 无效：{reason}。',
  },
  VCBOX_ERR_ROOM_NOT_FOUND: {
    statusCode: 404,
    en: 'No {kind} {id}.',
    zh: '{kind} {id} 不存在。',
  },
  VCBOX_ERR_ROOM_EXISTS: {
    statusCode: 409,
    en: 'The number {number} is already used by {owner}.',
    zh: '号码 {number} 已被 {owner} 使用。',
  },
  VCBOX_ERR_MEETING: {
    statusCode: 400,
    en: 'Meeting field {field} is invalid: {reason}.',
    zh: '会议字段 {field} 无效：{reason}。',
  },
  VCBOX_ERR_MEETING_STARTED: {
    statusCode: 409,
    en: 'Meeting {number} has already started; it can no longer be edited.',
    zh: '会议 {number} 已开始，不能再修改。',
  },
  VCBOX_ERR_PERIOD_INVALID: {
    statusCode: 400,
    en: 'The period is invalid: {reason}.',
    zh: '统计时段无效：{reason}。',
  },
  VCBOX_ERR_LICENSE_MALFORMED: {
    statusCode: 400,
    en: 'This is not a vcbox licence: {reason}. Paste the whole licence as the vendor sent it, from the line -----BEGIN VCBOX LICENSE----- to -----END VCBOX LICENSE-----. Nothing was changed.',
    zh: '这不是有效的 vcbox 授权：{reason}。请完整粘贴厂商发来的授权文本，从 -----BEGIN VCBOX LICENSE----- 行到 -----END VCBOX LICENSE----- 行。未作任何修改。',
  },
  VCBOX_ERR_LICENSE_TAMPERED: {
    statusCode: 422,
    en: 'The licence\'s signature does not match its content: it was changed after the vendor issued it, or it was not issued by the vendor. Paste it exactly as received (or ask the vendor for a new copy). Nothing was changed.',
    zh: '授权的签名与内容不符：授权在厂商签发后被修改过，或并非由厂商签发。请按收到时的原样粘贴（或向厂商重新索取）。未作任何修改。',
  },
  VCBOX_ERR_LICENSE_OTHER_BOX: {
    statusCode: 422,
    en: 'Licence {serial} was issued for the box {licensedBox}, not for this box ({boxId}). Send this box\'s ID, {boxId}, to the vendor to get a licence for it. Nothing was changed.',
    zh: '授权 {serial} 是为设备 {licensedBox} 签发的，不适用于本设备（{boxId}）。请将本设备的 ID {boxId} 发给厂商以获取授权。未作任何修改。',
  },
  VCBOX_ERR_LICENSE_EXPIRED: {
    statusCode: 422,
    en: 'Licence {serial} expired on {validUntil}. Ask the vendor for a renewal and activate that. Nothing was changed.',
    zh: '授权 {serial} 已于 {validUntil} 到期。请向厂商申请续期授权后再激活。未作任何修改。',
  },
  VCBOX_ERR_LICENSE_NOT_YET_VALID: {
    statusCode: 422,
    en: 'Licence {serial} is valid only from {validFrom}; the box\'s time is {now}. Check the box\'s time settings, or activate the licence from that day. Nothing was changed.',
    zh: '授权 {serial} 自 {validFrom} 起生效；设备当前时间为 {now}。请检查设备的时间设置，或在生效日之后再激活。未作任何修改。',
  },
  VCBOX_ERR_LICENSE_REVOKED: {
    statusCode: 422,
    en: 'Licence {serial} has been revoked by the vendor and cannot be used. Contact the vendor for a valid licence. Nothing was changed.',
    zh: '授权 {serial} 已被厂商吊销，无法使用。请联系厂商获取有效授权。未作任何修改。',
  },
  VCBOX_ERR_LICENSE_TRIAL_USED: {
    statusCode: 409,
    en: 'The 14-day trial of this box has already been used (started {startedAt}, ends or ended {endsAt}); it is available once per box. Activate a licence from the vendor.',
    zh: '本设备的 14 天试用已使用过（开始于 {startedAt}，结束于 {endsAt}）；每台设备仅可试用一次。请激活厂商提供的授权。',
  },
  VCBOX_ERR_LICENSE_TRIAL_LICENSED: {
    statusCode: 409,
    en: 'This box has had a licence (serial {serial}); the trial is only for boxes without one. To extend, ask the vendor for a renewal.',
    zh: '本设备已激活过授权（序列号 {serial}）；试用仅适用于从未授权的设备。如需延期，请向厂商申请续期。',
  },
  VCBOX_ERR_LICENSE_ACCOUNTS: {
    statusCode: 403,
    en: 'New accounts cannot be created: the box\'s licence is {status} ({detail}). Activate a valid licence first (Maintenance → License).',
    zh: '无法创建新账号：设备授权状态为{statusZh}（{detailZh}）。请先激活有效授权（系统维护 → 授权）。',
  },
  VCBOX_ERR_LICENSE_NONE_ACCOUNTS: {
    statusCode: 403,
    en: 'New accounts cannot be created: this box has no licence yet (the 14-day trial has not been started and no licence has been activated). Until it has one, no accounts can be created and meetings are audio only, at most {trialPorts} participants at once. Start the 14-day trial (setup wizard, or Maintenance → License) or activate a licence from the vendor.',
    zh: '无法创建新账号：本设备尚未授权（未开始 14 天试用，也未激活授权）。授权之前不能新建账号，会议仅支持音频，最多 {trialPorts} 个参会方同时在会。请开始 14 天试用（初始设置向导，或系统维护 → 授权），或激活厂商提供的授权。',
  },
  VCBOX_ERR_LICENSE_PORTS: {
    statusCode: 503,
    en: 'All {ports} concurrent participants the box\'s licence allows are in meetings. Try again when someone has left, or ask the administrator for a licence with more ports.',
    zh: '设备授权允许的 {ports} 个并发参会方已全部占用。请待有人离会后重试，或请管理员申请更多并发数的授权。',
  },
  VCBOX_ERR_MEDIA_PORTS_FULL: {
    statusCode: 503,
    en: "The box's media ports are all in use: the MCU port range (media.mcuPorts) holds {calls} calls at 6 ports each, 8 with content. Try again when someone has left, or ask the administrator to widen the range under Ports.",
    zh: '设备的媒体端口已全部占用：MCU 端口范围（media.mcuPorts）按每路呼叫 6 个端口（带辅流 8 个）可容纳 {calls} 路呼叫。请待有人离会后重试，或请管理员在端口设置中扩大范围。',
  },
  VCBOX_ERR_LICENSE_AUDIO_ONLY: {
    statusCode: 403,
    en: 'The box has no valid licence (none activated yet, or it expired or was revoked): meetings are audio only until the 14-day trial is started or a valid licence is activated (Maintenance → License).',
    zh: '设备没有有效授权（尚未激活，或已过期、被吊销）：在开始 14 天试用或激活有效授权之前，会议仅支持音频（系统维护 → 授权）。',
  },
  VCBOX_ERR_FIRMWARE_NOT_FOUND: {
    statusCode: 404,
    en: 'There is no firmware file {id}. The firmware files are listed by GET /api/v1/firmware.',
    zh: '没有编号为 {id} 的固件文件。固件文件列表见 GET /api/v1/firmware。',
  },
  VCBOX_ERR_FIRMWARE_FILE: {
    statusCode: 400,
    en: 'The firmware file cannot be used: {reason}. Upload the terminal vendor\'s firmware file, a .rom file. Nothing was stored.',
    zh: '该固件文件无法使用：{reasonZh}。请上传终端厂商提供的 .rom 格式固件文件。未保存任何内容。',
  },
  VCBOX_ERR_FIRMWARE_VERSION: {
    statusCode: 400,
    en: 'Say which software version the firmware file holds (for example 63.345.0.20): {reason}. Nothing was stored.',
    zh: '请填写该固件文件的软件版本（例如 63.345.0.20）：{reasonZh}。未保存任何内容。',
  },
  VCBOX_ERR_FIRMWARE_TOO_LARGE: {
    statusCode: 413,
    en: 'The firmware file is larger than {limit}, the most one firmware upload may be. Nothing was stored.',
    zh: '固件文件超过单个固件上传上限 {limit}。未保存任何内容。',
  },
  VCBOX_ERR_FIRMWARE_QUOTA: {
    statusCode: 507,
    en: 'Storing this file ({size}) would take the firmware files beyond their disk quota of {quota} ({used} in use). Delete firmware files that are not the latest, or raise the firmware quota in the disk settings. Nothing was stored.',
    zh: '保存该文件（{size}）将使固件文件超出其磁盘配额 {quota}（已使用 {used}）。请删除非最新版本的固件文件，或在磁盘设置中提高固件配额。未保存任何内容。',
  },
  VCBOX_ERR_FIRMWARE_EXISTS: {
    statusCode: 409,
    en: 'Version {version} for {model} is already uploaded (file {fileName}). Replace that file or delete it first.',
    zh: '{model} 的 {version} 版本已上传（文件 {fileName}）。请替换该文件或先将其删除。',
  },
  VCBOX_ERR_FIRMWARE_LATEST_DELETE: {
    statusCode: 409,
    en: '{fileName} is the latest firmware for {model} and cannot be deleted. Upload a newer file (it becomes the latest) or make another file the latest first.',
    zh: '{fileName} 是 {model} 的最新固件，不能删除。请先上传更新的文件（它将成为最新版本），或将其他文件设为最新版本。',
  },
  VCBOX_ERR_FIRMWARE_LATEST_REPLACE: {
    statusCode: 409,
    en: '{fileName} is the latest firmware for {model}; only files that are not the latest can be replaced. Upload the new file instead: it becomes the latest.',
    zh: '{fileName} 是 {model} 的最新固件；只有非最新版本的文件可以替换。请直接上传新文件，它将成为最新版本。',
  },
  VCBOX_ERR_FIRMWARE_NO_LATEST: {
    statusCode: 404,
    en: 'No firmware is uploaded for the model {model}. Upload its firmware file first.',
    zh: '尚未上传型号 {model} 的固件。请先上传其固件文件。',
  },
  VCBOX_ERR_FIRMWARE_FAILED: {
    statusCode: 500,
    en: 'The firmware file could not be stored: {reason}. Nothing was left behind.',
    zh: '无法保存固件文件：{reason}。未留下不完整的文件。',
  },
  VCBOX_ERR_PROVISIONING_AUTH: {
    statusCode: 401,
    en: 'Log in with the terminal\'s SIP account number and password (HTTP Digest).',
    zh: '请使用终端的 SIP 账号和密码登录（HTTP 摘要认证）。',
  },
  VCBOX_ERR_PROVISIONING_LOCKED: {
    statusCode: 403,
    en: 'Too many failed logins from this address; try again later.',
    zh: '该地址登录失败次数过多；请稍后再试。',
  },
  VCBOX_ERR_RANGE: {
    statusCode: 416,
    en: 'The requested range {range} is not inside the file ({size} bytes).',
    zh: '请求的范围 {range} 不在文件内（文件大小 {size} 字节）。',
  },
  VCBOX_ERR_DISK_QUOTA_MIN: {
    statusCode: 400,
    en: 'The {part} quota must be at least {min} GB: the larger of its default ({default} GB) and the space it uses now ({used} GB). Enter a whole number of at least {min}, or clean the part first.',
    zh: '{partZh}配额不能小于 {min} GB：各部分配额最小值为该部分默认空间（{default} GB）与已使用空间（{used} GB）中的较大值。请输入不小于 {min} 的整数，或先清理该部分。',
  },
  VCBOX_ERR_DISK_QUOTA_SUM: {
    statusCode: 400,
    en: 'The quotas on {path} add up to {sum} GB, more than the {available} GB its parts can have there ({free} GB free plus the {used} GB they use now). Lower a quota or free space on the disk.',
    zh: '{path} 上各部分配额总和为 {sum} GB，超过了可用于这些部分的 {available} GB（可用空间 {free} GB，加上它们已使用的 {used} GB）。各部分磁盘空间总额不能超过可用磁盘空间，请调低配额或释放磁盘空间。',
  },
  VCBOX_ERR_DISK_CLEAN_UNSUPPORTED: {
    statusCode: 409,
    en: 'The {part} files are not cleaned here: {reason}',
    zh: '{partZh}文件不能在此清理：{reasonZh}',
  },
  VCBOX_ERR_DISK_FULL: {
    statusCode: 507,
    en: 'The disk that holds the box\'s data is full ({free} free): the change was not saved, and nothing was changed. Free space — delete old backups or logs (Disk in the console: Clean now), or give the disk more room — and try again; the box takes changes again as soon as there is room, without a restart. Calls in progress go on.',
    zh: '存放设备数据的磁盘已满（剩余 {free}）：本次修改未保存，数据未作任何修改。请释放空间（在控制台“磁盘”中删除旧备份或日志：立即清理，或扩大磁盘）后重试；一有空间设备即恢复接受修改，无需重启。进行中的通话不受影响。',
  },
  VCBOX_ERR_LOG_RANGE: {
    statusCode: 400,
    en: 'The date range {from} to {to} is not valid: {reason}. Give two dates YYYY-MM-DD, the first not after the second.',
    zh: '日期范围 {from} 至 {to} 无效：{reasonZh}。请输入两个 YYYY-MM-DD 格式的日期，开始日期不能晚于结束日期。',
  },
  VCBOX_ERR_LOG_EXPORT_EMPTY: {
    statusCode: 404,
    en: 'No {modules} log has lines from {from} to {to}. {available}',
    zh: '{from} 至 {to} 期间没有 {modules} 日志。{availableZh}',
  },
  VCBOX_ERR_LOG_EXPORT_TOO_BIG: {
    statusCode: 413,
    en: 'The export would hold {size} of logs; at most {max} fit in one download. Choose fewer modules or a shorter date range.',
    zh: '导出的日志共 {size}，单次下载最多 {max}。请减少模块或缩短日期范围。',
  },
  VCBOX_ERR_TERMINAL_LOG_NOT_FOUND: {
    statusCode: 404,
    en: 'There is no terminal log {id}. The terminals with logs are listed by GET /api/v1/logs/terminals.',
    zh: '没有终端日志 {id}。有日志的终端见 GET /api/v1/logs/terminals。',
  },
  VCBOX_ERR_NOT_FOUND: {
    statusCode: 404,
    en: 'No such resource: {method} {url}.',
    zh: '资源不存在：{method} {url}。',
  },
} as const satisfies Record<string, ErrorDefinition>;

export type ErrorCode = keyof typeof ERRORS;
export type Language = 'en' | 'zh';

function format(template: string, params: Record<string, unknown>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** An error that carries a code from the table above, its parameters and an HTTP status. */
export class VcboxError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly params: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, params: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(format(ERRORS[code].en, params), options);
    this.name = 'VcboxError';
    this.code = code;
    this.statusCode = ERRORS[code].statusCode;
    this.params = params;
  }

  /** The message in the admin's language (the console sends zh-CN or en). */
  localized(language: Language): string {
    return format(ERRORS[this.code][language], this.params);
  }
}

export function createError(
  code: ErrorCode,
  params: Record<string, unknown> = {},
  cause?: unknown,
): VcboxError {
  return new VcboxError(code, params, cause === undefined ? undefined : { cause });
}
