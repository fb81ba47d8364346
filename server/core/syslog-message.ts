/**
 * The syslog wire format: one RFC 5424 message (PRI, VERSION 1, TIMESTAMP, HOSTNAME, APP-NAME,
 * PROCID, MSGID, STRUCTURED-DATA, then the UTF-8 BOM and the text) as bytes, and the
 * octet-counting frame ("LEN SP MSG", RFC 6587 3.4.1 / RFC 5425 4.3) that carries it over
 * TCP and TLS. Pure functions: nothing here opens a socket (./syslog-forwarder.ts does) or
 * knows where messages come from (./remote-syslog-link.ts).
 */

/** RFC 5424 6.2.1 facilities the box uses: local0 for everything it sends. */
export const FACILITY_LOCAL0 = 16;

/** RFC 5424 6.2.1 severities. */
export const SEVERITY = {
  emergency: 0,
  alert: 1,
  critical: 2,
  error: 3,
  warning: 4,
  notice: 5,
  informational: 6,
  debug: 7,
} as const;

/**
 * Private SD-IDs are `name@<IANA enterprise number>`. 32473 is the number RFC 5612 reserves for
 * documentation and examples: the product has none of its own yet. Change it here when it does.
 */
export const ENTERPRISE_NUMBER = 32473;

/** pino's numeric level → syslog severity (fatal → critical, error, warn → warning, info, debug/trace). */
export function severityOfLogLevel(level: number): number {
  if (level >= 60) return SEVERITY.critical;
  if (level >= 50) return SEVERITY.error;
  if (level >= 40) return SEVERITY.warning;
  if (level >= 30) return SEVERITY.informational;
  return SEVERITY.debug;
}

/** One SD-ELEMENT: `[id name="value" …]`. */
export interface SdElement {
  readonly id: string;
  readonly params: Readonly<Record<string, string | number | boolean | undefined>>;
}

export interface SyslogMessage {
  readonly facility: number;
  readonly severity: number;
  /** When the event happened (not when it is sent). */
  readonly timestamp: Date;
  readonly hostname: string;
  readonly appName: string;
  readonly procId?: string | number | undefined;
  readonly msgId?: string | undefined;
  readonly structuredData?: readonly SdElement[];
  /** Free text (UTF-8); sent after a BOM as RFC 5424 6.4 asks for UTF-8 text. */
  readonly message?: string | undefined;
}

/** Messages longer than this are cut (in the text, on a character boundary). rsyslog's default limit is 8 KiB. */
export const MAX_MESSAGE_BYTES = 8192;

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** A header field: printable US-ASCII only (RFC 5424 6: PRINTUSASCII), at most `max` characters, NILVALUE when empty. */
function headerField(value: string | number | undefined, max: number): string {
  const text = String(value ?? '').replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return text === '' ? '-' : text;
}

/** SD-NAME: printable US-ASCII except `=`, space, `]` and `"`; 1-32 characters. */
function sdName(name: string): string {
  return name.replace(/[^\x21-\x7e]|[= \]"]/g, '_').slice(0, 32) || '_';
}

/** PARAM-VALUE: UTF-8 with `"`, `\` and `]` escaped (RFC 5424 6.3.3). */
function paramValue(value: string | number | boolean): string {
  return String(value).replace(/["\\\]]/g, (c) => `\\${c}`);
}

function structuredData(elements: readonly SdElement[] | undefined): string {
  if (!elements || elements.length === 0) return '-';
  return elements
    .map((element) => {
      const params = Object.entries(element.params)
        .filter((entry): entry is [string, string | number | boolean] => entry[1] !== undefined)
        .map(([name, value]) => ` ${sdName(name)}="${paramValue(value)}"`)
        .join('');
      // The SD-ID keeps its one `@` (private IDs); the name parts follow the SD-NAME rule.
      const id = element.id.split('@').map(sdName).slice(0, 2).join('@');
      return `[${id}${params}]`;
    })
    .join('');
}

/** Cuts UTF-8 bytes to at most `max` without splitting a character. */
function cutUtf8(bytes: Buffer, max: number): Buffer {
  if (bytes.length <= max) return bytes;
  let end = Math.max(0, max);
  // Step back over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/** The RFC 5424 message as bytes, at most `maxBytes` long. */
export function formatSyslogMessage(message: SyslogMessage, maxBytes = MAX_MESSAGE_BYTES): Buffer {
  const pri = message.facility * 8 + message.severity;
  const header = [
    `<${pri}>1`,
    Number.isNaN(message.timestamp.getTime()) ? '-' : message.timestamp.toISOString(),
    headerField(message.hostname, 255),
    headerField(message.appName, 48),
    headerField(message.procId, 128),
    headerField(message.msgId, 32),
    structuredData(message.structuredData),
  ].join(' ');
  const head = Buffer.from(header, 'utf8');
  if (message.message === undefined || message.message === '') return cutUtf8(head, maxBytes);
  const room = maxBytes - head.length - 1 - BOM.length;
  if (room <= 0) return cutUtf8(head, maxBytes);
  return Buffer.concat([head, Buffer.from(' '), BOM, cutUtf8(Buffer.from(message.message, 'utf8'), room)]);
}

/** Octet-counting framing for stream transports: `<length in bytes> <message>`. */
export function octetCounted(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${message.length} `, 'ascii'), message]);
}
