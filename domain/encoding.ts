/** Whether `label` names an encoding Node's TextDecoder reads (the WHATWG Encoding standard's labels). */
export function isKnownEncoding(label: string): boolean {
  try {
    new TextDecoder(label);
    return true;
  } catch {
    return false;
  }
}

/** What a setting of an encoding says when it names none. */
export const UNKNOWN_ENCODING = 'not an encoding segflow knows; e.g. "gb18030", "big5", "shift_jis", "utf-16le"';
