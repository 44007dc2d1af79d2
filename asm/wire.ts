// Wire hot paths (checksum, decode, encode). PLACEHOLDER: the foundation issue fills this in.
export function wireVersion(): i32 { return 0; }
