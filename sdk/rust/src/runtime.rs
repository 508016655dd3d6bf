//! The guest exports of ABI §3 behind [`crate::export!`], the module's one
//! operator instance, the panic hook and the allocator of a Wasm build.
//!
//! A module holds one operator instance and is single-threaded (the host
//! calls one export at a time and never re-enters the guest), so this is the
//! one place with global state.

use crate::context::{run_batch, Core};
use crate::error::{Code, Error};
use crate::sys;
use crate::Operator;
use std::any::Any;
use std::cell::UnsafeCell;

/// `MIN_RESERVE_BYTES` is the smallest input buffer `weir_v1_reserve` hands
/// out.
const MIN_RESERVE_BYTES: usize = 64 << 10;

/// `Instance` is the operator and the SDK's per-instance core.
struct Instance<O> {
    op: O,
    core: Core,
}

struct Global {
    /// `input` is the buffer `weir_v1_reserve` returned last, used at its full
    /// length; the host writes batches and configurations into it.
    input: Vec<u8>,
    instance: Option<Box<dyn Any>>,
    hooked: bool,
}

struct GlobalCell(UnsafeCell<Global>);

// SAFETY: a Weir module is single-threaded: the host calls one export at a
// time on an instance and host functions never call back into the guest.
unsafe impl Sync for GlobalCell {}

static GLOBAL: GlobalCell = GlobalCell(UnsafeCell::new(Global {
    input: Vec::new(),
    instance: None,
    hooked: false,
}));

/// `global` returns the module's global state. INVARIANT: each export calls
/// it once, at its start, so there is one reference at a time.
fn global() -> &'static mut Global {
    // SAFETY: see GlobalCell and the invariant.
    let g = unsafe { &mut *GLOBAL.0.get() };
    if !g.hooked {
        g.hooked = true;
        std::panic::set_hook(Box::new(panic_hook));
    }
    g
}

/// `panic_hook` writes the panic to stderr as a line that starts with
/// `panic: `, which the host puts in the error of the trap that follows (a
/// panic aborts: Wasm targets have no unwinding).
fn panic_hook(info: &std::panic::PanicInfo<'_>) {
    let payload = info.payload();
    let msg = if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.as_str()
    } else {
        "Box<dyn Any>"
    };
    let line = match info.location() {
        Some(l) => format!(
            "panic: {} [{}:{}:{}]\n",
            msg,
            l.file(),
            l.line(),
            l.column()
        ),
        None => format!("panic: {}\n", msg),
    };
    sys::write_stderr(line.as_bytes());
}

/// `fail` hands `msg` to set_error and returns `code`, for an export to
/// return.
fn fail(code: Code, msg: &str) -> u32 {
    sys::set_error(msg.as_bytes());
    code.get()
}

/// `input_at` returns the bytes `[ptr, ptr+len)` if they lie within the
/// reserved buffer. An empty input needs no buffer, so any pointer will do
/// (the host passes an empty configuration as (0, 0) without reserving).
fn input_at(input: &mut [u8], ptr: u32, len: u32) -> Option<&mut [u8]> {
    if len == 0 {
        return Some(&mut []);
    }
    let base = input.as_ptr() as usize;
    let (p, n) = (ptr as usize, len as usize);
    if input.is_empty() || p < base || (p - base) as u64 + n as u64 > input.len() as u64 {
        return None;
    }
    let off = p - base;
    Some(&mut input[off..off + n])
}

/// `reserve` is `weir_v1_reserve`: a buffer of at least `size` bytes for the
/// host's next input, valid until the next call, reused while it is big
/// enough; 0 if it cannot be allocated.
pub fn reserve(size: u32) -> u32 {
    let g = global();
    let size = size as usize;
    if g.input.is_empty() || g.input.len() < size {
        g.input = Vec::new(); // free the old buffer before the new one is made
        let mut b = Vec::new();
        if b.try_reserve_exact(size.max(MIN_RESERVE_BYTES)).is_err() {
            return 0;
        }
        b.resize(b.capacity(), 0);
        g.input = b;
    }
    g.input.as_mut_ptr() as usize as u32
}

/// `init` is `weir_v1_init`: it makes the operator with `make` and runs its
/// `init` with the configuration at `[ptr, ptr+len)`.
pub fn init<O: Operator, F: FnOnce() -> O>(ptr: u32, len: u32, make: F) -> u32 {
    let g = global();
    let config = match input_at(&mut g.input, ptr, len) {
        Some(c) => c,
        None => {
            return fail(
                Code::OUT_OF_BOUNDS,
                &format!(
                    "weir_v1_init: config [{}, {}+{}) is not within the buffer weir_v1_reserve returned",
                    ptr, ptr, len
                ),
            )
        }
    };
    g.instance = None;
    let mut inst = Instance {
        op: make(),
        core: Core::new(),
    };
    if let Err(e) = inst.op.init(config) {
        return init_failed(&e);
    }
    g.instance = Some(Box::new(inst));
    0
}

#[cold]
fn init_failed(e: &Error) -> u32 {
    fail(e.batch_code(), &format!("Operator::init: {}", e))
}

/// `process` is `weir_v1_process`: it runs the batch at `[ptr, ptr+len)`
/// through the operator (made with `make` and an empty configuration if
/// `weir_v1_init` did not run).
pub fn process<O: Operator, F: FnOnce() -> O>(ptr: u32, len: u32, make: F) -> u32 {
    let g = global();
    if g.instance.is_none() {
        let mut inst = Instance {
            op: make(),
            core: Core::new(),
        };
        if let Err(e) = inst.op.init(&[]) {
            return init_failed(&e);
        }
        g.instance = Some(Box::new(inst));
    }
    let inst = match g
        .instance
        .as_mut()
        .and_then(|i| i.downcast_mut::<Instance<O>>())
    {
        Some(i) => i,
        // Unreachable: one export! per module makes one operator type.
        None => return fail(Code::ERROR, "weir: the module's operator has another type"),
    };
    let batch = match input_at(&mut g.input, ptr, len) {
        Some(b) => b,
        None => {
            return fail(
                Code::OUT_OF_BOUNDS,
                &format!(
                    "weir_v1_process: batch [{}, {}+{}) is not within the buffer weir_v1_reserve returned",
                    ptr, ptr, len
                ),
            )
        }
    };
    match run_batch(&mut inst.op, &mut inst.core, batch, true) {
        Ok(()) => 0,
        Err(f) => fail(f.code, &f.to_string()),
    }
}

/// `GuestAllocator` is the global allocator of a Wasm build: the standard
/// library's (dlmalloc on wasm32), plus a line on stderr when an allocation
/// fails — `fatal error: out of memory: ...`, which the host puts in the
/// error of the trap that follows — since the standard library's own message
/// has nowhere to go on wasm32-unknown-unknown. Build with
/// `--cfg weir_custom_allocator` to declare a global allocator of your own.
pub struct GuestAllocator;

#[cfg(not(weir_custom_allocator))]
#[global_allocator]
static ALLOCATOR: GuestAllocator = GuestAllocator;

/// `ALLOCATIONS` counts the allocations (and reallocations) made through
/// GuestAllocator, for the tests that check that the per-record path makes
/// none. It is a plain counter: a module is single-threaded.
static ALLOCATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// `allocations` returns the number of allocations made through
/// GuestAllocator so far.
pub fn allocations() -> u64 {
    ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed)
}

#[inline(always)]
fn count_allocation() {
    // NB: load and store rather than fetch_add: without the atomics feature
    // they compile to a plain load and store, and nothing else runs.
    let n = ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed);
    ALLOCATIONS.store(n + 1, std::sync::atomic::Ordering::Relaxed);
}

#[cold]
fn out_of_memory(size: usize) {
    // NB: no allocation here: the heap just failed.
    let mut line = [0u8; 96];
    let head = b"fatal error: out of memory: could not allocate ";
    let mut n = head.len();
    line[..n].copy_from_slice(head);
    let mut digits = [0u8; 20];
    let d = crate::text::format_u64(size as u64, &mut digits);
    line[n..n + d.len()].copy_from_slice(d);
    n += d.len();
    let tail = b" bytes\n";
    line[n..n + tail.len()].copy_from_slice(tail);
    n += tail.len();
    sys::write_stderr(&line[..n]);
}

unsafe impl std::alloc::GlobalAlloc for GuestAllocator {
    #[inline]
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        count_allocation();
        let p = std::alloc::System.alloc(layout);
        if p.is_null() {
            out_of_memory(layout.size());
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        count_allocation();
        let p = std::alloc::System.alloc_zeroed(layout);
        if p.is_null() {
            out_of_memory(layout.size());
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        std::alloc::System.dealloc(ptr, layout)
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        let p = std::alloc::System.realloc(ptr, layout, new_size);
        if p.is_null() {
            out_of_memory(new_size);
        }
        p
    }
}
