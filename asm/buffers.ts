// Stream buffers (reassembly and send ring). PLACEHOLDER: the buffers issue fills this in.
export function bufVersion(): i32 { return 0; }
