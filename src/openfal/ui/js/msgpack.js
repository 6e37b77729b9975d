// A small MessagePack decoder: realtime endpoints answer with msgpack frames.
export function decode(buffer) {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder();
  let at = 0;
  const u8 = () => bytes[at++];
  const take = (n) => { const out = bytes.subarray(at, at + n); at += n; return out; };
  const num = (fn, n) => { const v = view[fn](at); at += n; return v; };
  const str = (n) => text.decode(take(n));
  const arr = (n) => Array.from({ length: n }, () => value());
  const map = (n) => { const o = {}; for (let i = 0; i < n; i++) { const k = value(); o[k] = value(); } return o; };
  function value() {
    const b = u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if ((b & 0xf0) === 0x80) return map(b & 0x0f);
    if ((b & 0xf0) === 0x90) return arr(b & 0x0f);
    if ((b & 0xe0) === 0xa0) return str(b & 0x1f);
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return take(u8()).slice();
      case 0xc5: return take(num("getUint16", 2)).slice();
      case 0xc6: return take(num("getUint32", 4)).slice();
      case 0xca: return num("getFloat32", 4);
      case 0xcb: return num("getFloat64", 8);
      case 0xcc: return u8();
      case 0xcd: return num("getUint16", 2);
      case 0xce: return num("getUint32", 4);
      case 0xcf: return Number(num("getBigUint64", 8));
      case 0xd0: return num("getInt8", 1);
      case 0xd1: return num("getInt16", 2);
      case 0xd2: return num("getInt32", 4);
      case 0xd3: return Number(num("getBigInt64", 8));
      case 0xd9: return str(u8());
      case 0xda: return str(num("getUint16", 2));
      case 0xdb: return str(num("getUint32", 4));
      case 0xdc: return arr(num("getUint16", 2));
      case 0xdd: return arr(num("getUint32", 4));
      case 0xde: return map(num("getUint16", 2));
      case 0xdf: return map(num("getUint32", 4));
      default: throw new Error(`msgpack: unsupported type 0x${b.toString(16)}`);
    }
  }
  return value();
}
