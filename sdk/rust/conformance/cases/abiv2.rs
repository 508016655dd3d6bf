//! `abiv2` is the Rust build of the conformance suite's wrong-version case
//! (internal/conformancetest), written without the SDK: a module for a Weir
//! ABI v2 that does not exist, which exports `weir_v2_reserve` and
//! `weir_v2_process` instead of the v1 names. The host must refuse to load
//! it, with an error that names the module and the version.

/// `INPUT_BYTES` is the size of the one input buffer.
const INPUT_BYTES: usize = 64 << 10;

static mut INPUT: [u8; INPUT_BYTES] = [0; INPUT_BYTES];

#[no_mangle]
pub extern "C" fn weir_v2_reserve(size: u32) -> u32 {
    if size as usize > INPUT_BYTES {
        return 0;
    }
    // SAFETY: only the address is taken. (Rust 1.63 needs the unsafe block,
    // later versions do not.)
    #[allow(unused_unsafe)]
    unsafe {
        std::ptr::addr_of_mut!(INPUT) as u32
    }
}

#[no_mangle]
pub extern "C" fn weir_v2_process(_ptr: u32, _len: u32) -> u32 {
    0
}
