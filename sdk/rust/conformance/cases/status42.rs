//! `status42` is the Rust build of the conformance suite's unknown-status
//! case (internal/conformancetest), written without the SDK (which only lets
//! an operator return codes 100..=65535): it emits every record unchanged,
//! and returns status 42, which ABI v1 does not define, while processing a
//! record whose key is `poison`, after storing the entry in the batch's
//! cursor (ABI §4.4) and calling set_error.

#[link(wasm_import_module = "weir_v1")]
extern "C" {
    #[link_name = "emit"]
    fn emit(port: u32, ptr: *const u8, len: u32) -> u32;
    #[link_name = "set_error"]
    fn set_error(ptr: *const u8, len: u32);
}

/// `Buffers` are the module's input buffer (what weir_v1_reserve returned
/// last) and output buffer.
struct Buffers {
    input: Vec<u8>,
    out: Vec<u8>,
}

static mut BUFFERS: Buffers = Buffers {
    input: Vec::new(),
    out: Vec::new(),
};

/// `buffers` returns the module's buffers.
fn buffers() -> &'static mut Buffers {
    // SAFETY: a module is single-threaded and the host never re-enters it;
    // each export takes the reference once.
    unsafe { &mut *std::ptr::addr_of_mut!(BUFFERS) }
}

fn le32(b: &[u8], off: usize) -> usize {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]]) as usize
}

#[no_mangle]
pub extern "C" fn weir_v1_reserve(size: u32) -> u32 {
    let b = buffers();
    if b.input.len() < size as usize {
        b.input = vec![0; size as usize];
    }
    b.input.as_mut_ptr() as u32
}

#[no_mangle]
pub extern "C" fn weir_v1_process(_ptr: u32, len: u32) -> u32 {
    let bufs = buffers();
    let b = &mut bufs.input[..len as usize];
    let count = le32(b, 4);
    let mut off = 32;
    for i in 0..count {
        b[24..28].copy_from_slice(&(i as u32).to_le_bytes());
        let kl = le32(b, off + 4);
        if &b[off + 32..off + 32 + kl] == b"poison" {
            let msg = b"status 42 on purpose";
            // SAFETY: msg is in this module's memory.
            unsafe { set_error(msg.as_ptr(), msg.len() as u32) };
            return 42;
        }
        off += 32 + kl + le32(b, off + 8) + le32(b, off + 12);
    }
    if count == 0 {
        return 0;
    }
    // The input batch is a valid batch of records: emit it as it is, with the
    // header an emitted batch has (no watermark, processing time and cursor 0).
    let out = &mut bufs.out;
    out.clear();
    out.extend_from_slice(b);
    out[8..16].copy_from_slice(&i64::MIN.to_le_bytes());
    out[16..24].copy_from_slice(&0u64.to_le_bytes());
    out[24..28].copy_from_slice(&0u32.to_le_bytes());
    // SAFETY: out is in this module's memory.
    unsafe { emit(0, out.as_ptr(), out.len() as u32) }
}
