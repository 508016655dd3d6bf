//! The host functions of ABI §5, as safe functions over slices.
//!
//! In a Wasm build they are the `weir_v1` imports, called directly (no
//! indirection on the per-record path). In a native build (tests) they call
//! the in-memory host that [`crate::testing`] installs for the duration of a
//! batch; with none installed they return NOT_ALLOWED, as the host does
//! outside `weir_v1_process`.

use crate::error::Code;

#[cfg(target_arch = "wasm32")]
mod imp {
    // NB: pointers are i32 offsets into the module's memory on wasm32, and
    // lengths are passed as u32 (ABI §1); the host checks every pair against
    // the memory and returns OUT_OF_BOUNDS for one that is outside it.
    #[link(wasm_import_module = "weir_v1")]
    extern "C" {
        #[link_name = "state_get"]
        pub fn state_get(
            entry: u32,
            name: *const u8,
            name_len: u32,
            user_key: *const u8,
            user_key_len: u32,
            out: *mut u8,
            out_cap: u32,
        ) -> i64;
        #[link_name = "state_put"]
        pub fn state_put(
            entry: u32,
            name: *const u8,
            name_len: u32,
            user_key: *const u8,
            user_key_len: u32,
            value: *const u8,
            value_len: u32,
        ) -> u32;
        #[link_name = "state_delete"]
        pub fn state_delete(
            entry: u32,
            name: *const u8,
            name_len: u32,
            user_key: *const u8,
            user_key_len: u32,
        ) -> u32;
        #[link_name = "state_clear"]
        pub fn state_clear(entry: u32, name: *const u8, name_len: u32) -> u32;
        #[link_name = "state_scan"]
        pub fn state_scan(
            entry: u32,
            name: *const u8,
            name_len: u32,
            start: *const u8,
            start_len: u32,
            out: *mut u8,
            out_cap: u32,
        ) -> i64;
        #[link_name = "timer_set"]
        pub fn timer_set(entry: u32, kind: u32, time: i64) -> u32;
        #[link_name = "timer_delete"]
        pub fn timer_delete(entry: u32, kind: u32, time: i64) -> u32;
        #[link_name = "emit"]
        pub fn emit(port: u32, batch: *const u8, batch_len: u32) -> u32;
        #[link_name = "log"]
        pub fn log(level: i32, msg: *const u8, msg_len: u32);
        #[link_name = "set_error"]
        pub fn set_error(msg: *const u8, msg_len: u32);
        // NB: ABI 1.1; the linker imports it only into modules that use
        // Context::call, so others still load on 1.0 hosts.
        #[link_name = "call"]
        pub fn call(
            entry: u32,
            endpoint: *const u8,
            endpoint_len: u32,
            request: *const u8,
            request_len: u32,
            key: *const u8,
            key_len: u32,
            out: *mut u8,
            out_cap: u32,
        ) -> i64;
    }
}

#[cfg(target_arch = "wasm32")]
#[inline(always)]
fn len(b: &[u8]) -> u32 {
    b.len() as u32
}

/// `state_get` copies the value of `(name, user_key)` for `entry`'s key into
/// `out` if it fits and returns its length, or `-code`.
#[inline(always)]
pub(crate) fn state_get(entry: u32, name: &[u8], user_key: &[u8], out: &mut [u8]) -> i64 {
    #[cfg(target_arch = "wasm32")]
    unsafe {
        imp::state_get(
            entry,
            name.as_ptr(),
            len(name),
            user_key.as_ptr(),
            len(user_key),
            out.as_mut_ptr(),
            out.len() as u32,
        )
    }
    #[cfg(not(target_arch = "wasm32"))]
    native::with(-(Code::NOT_ALLOWED.get() as i64), |h| {
        h.state_get(entry, name, user_key, out)
    })
}

#[inline(always)]
pub(crate) fn state_put(entry: u32, name: &[u8], user_key: &[u8], value: &[u8]) -> Code {
    #[cfg(target_arch = "wasm32")]
    let c = unsafe {
        imp::state_put(
            entry,
            name.as_ptr(),
            len(name),
            user_key.as_ptr(),
            len(user_key),
            value.as_ptr(),
            len(value),
        )
    };
    #[cfg(not(target_arch = "wasm32"))]
    let c = native::with(Code::NOT_ALLOWED.get(), |h| {
        h.state_put(entry, name, user_key, value)
    });
    Code::from_raw(c)
}

pub(crate) fn state_delete(entry: u32, name: &[u8], user_key: &[u8]) -> Code {
    #[cfg(target_arch = "wasm32")]
    let c = unsafe {
        imp::state_delete(
            entry,
            name.as_ptr(),
            len(name),
            user_key.as_ptr(),
            len(user_key),
        )
    };
    #[cfg(not(target_arch = "wasm32"))]
    let c = native::with(Code::NOT_ALLOWED.get(), |h| {
        h.state_delete(entry, name, user_key)
    });
    Code::from_raw(c)
}

pub(crate) fn state_clear(entry: u32, name: &[u8]) -> Code {
    #[cfg(target_arch = "wasm32")]
    let c = unsafe { imp::state_clear(entry, name.as_ptr(), len(name)) };
    #[cfg(not(target_arch = "wasm32"))]
    let c = native::with(Code::NOT_ALLOWED.get(), |h| h.state_clear(entry, name));
    Code::from_raw(c)
}

/// `state_scan` writes the pairs of map state `name` with user key >= `start`
/// into `out` and returns `written | more << 32`, or `-code` (ABI §5.1).
pub(crate) fn state_scan(entry: u32, name: &[u8], start: &[u8], out: &mut [u8]) -> i64 {
    #[cfg(target_arch = "wasm32")]
    unsafe {
        imp::state_scan(
            entry,
            name.as_ptr(),
            len(name),
            start.as_ptr(),
            len(start),
            out.as_mut_ptr(),
            out.len() as u32,
        )
    }
    #[cfg(not(target_arch = "wasm32"))]
    native::with(-(Code::NOT_ALLOWED.get() as i64), |h| {
        h.state_scan(entry, name, start, out)
    })
}

#[inline(always)]
pub(crate) fn timer_set(entry: u32, kind: u32, time: i64) -> Code {
    #[cfg(target_arch = "wasm32")]
    let c = unsafe { imp::timer_set(entry, kind, time) };
    #[cfg(not(target_arch = "wasm32"))]
    let c = native::with(Code::NOT_ALLOWED.get(), |h| h.timer_set(entry, kind, time));
    Code::from_raw(c)
}

pub(crate) fn timer_delete(entry: u32, kind: u32, time: i64) -> Code {
    #[cfg(target_arch = "wasm32")]
    let c = unsafe { imp::timer_delete(entry, kind, time) };
    #[cfg(not(target_arch = "wasm32"))]
    let c = native::with(Code::NOT_ALLOWED.get(), |h| {
        h.timer_delete(entry, kind, time)
    });
    Code::from_raw(c)
}

pub(crate) fn emit(port: u32, batch: &[u8]) -> Code {
    #[cfg(target_arch = "wasm32")]
    let c = unsafe { imp::emit(port, batch.as_ptr(), len(batch)) };
    #[cfg(not(target_arch = "wasm32"))]
    let c = native::with(Code::NOT_ALLOWED.get(), |h| h.emit(port, batch));
    Code::from_raw(c)
}

pub(crate) fn log(level: i32, msg: &[u8]) {
    #[cfg(target_arch = "wasm32")]
    unsafe {
        imp::log(level, msg.as_ptr(), len(msg))
    }
    #[cfg(not(target_arch = "wasm32"))]
    native::with((), |h| h.log(level, msg))
}

/// `call` makes the journaled external call of ABI §5.3 and returns the
/// response's length (copied into `out` if it fits), or `-code`.
pub(crate) fn call(entry: u32, endpoint: &[u8], request: &[u8], key: &[u8], out: &mut [u8]) -> i64 {
    #[cfg(target_arch = "wasm32")]
    unsafe {
        imp::call(
            entry,
            endpoint.as_ptr(),
            len(endpoint),
            request.as_ptr(),
            len(request),
            key.as_ptr(),
            len(key),
            out.as_mut_ptr(),
            out.len() as u32,
        )
    }
    #[cfg(not(target_arch = "wasm32"))]
    native::with(-(Code::NOT_ALLOWED.get() as i64), |h| {
        h.call(entry, endpoint, request, key, out)
    })
}

#[cfg(target_arch = "wasm32")]
pub(crate) fn set_error(msg: &[u8]) {
    unsafe { imp::set_error(msg.as_ptr(), len(msg)) }
}

/// `write_stderr` writes `msg` to the module's stderr, which the host logs and
/// reads a trap's explanation from (a line that starts with `panic: `). On
/// wasm32-unknown-unknown, which has no standard error, it calls WASI's
/// `fd_write` directly: the host offers WASI to every module (ABI §7.2).
#[cfg(target_arch = "wasm32")]
pub(crate) fn write_stderr(msg: &[u8]) {
    #[cfg(target_os = "wasi")]
    {
        use std::io::Write;
        let _ = std::io::stderr().write_all(msg);
    }
    #[cfg(not(target_os = "wasi"))]
    {
        #[repr(C)]
        struct IoVec {
            buf: *const u8,
            len: usize,
        }
        #[link(wasm_import_module = "wasi_snapshot_preview1")]
        extern "C" {
            fn fd_write(fd: u32, iovs: *const IoVec, iovs_len: usize, nwritten: *mut usize) -> u32;
        }
        let mut rest = msg;
        while !rest.is_empty() {
            let iov = IoVec {
                buf: rest.as_ptr(),
                len: rest.len(),
            };
            let mut n = 0usize;
            // SAFETY: iov describes live memory of this module; n is written
            // by the host.
            let errno = unsafe { fd_write(2, &iov, 1, &mut n) };
            if errno != 0 || n == 0 {
                return;
            }
            rest = &rest[n.min(rest.len())..];
        }
    }
}

/// `native` routes the host functions of a native build to the host that a
/// harness installs for the duration of a batch.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) mod native {
    use std::cell::RefCell;
    use std::rc::Rc;

    /// `Host` is the host side of ABI §5 over slices; its results are those
    /// of the host functions.
    pub(crate) trait Host {
        fn state_get(&mut self, entry: u32, name: &[u8], user_key: &[u8], out: &mut [u8]) -> i64;
        fn state_put(&mut self, entry: u32, name: &[u8], user_key: &[u8], value: &[u8]) -> u32;
        fn state_delete(&mut self, entry: u32, name: &[u8], user_key: &[u8]) -> u32;
        fn state_clear(&mut self, entry: u32, name: &[u8]) -> u32;
        fn state_scan(&mut self, entry: u32, name: &[u8], start: &[u8], out: &mut [u8]) -> i64;
        fn timer_set(&mut self, entry: u32, kind: u32, time: i64) -> u32;
        fn timer_delete(&mut self, entry: u32, kind: u32, time: i64) -> u32;
        fn emit(&mut self, port: u32, batch: &[u8]) -> u32;
        fn log(&mut self, level: i32, msg: &[u8]);
        /// `call` answers an external call; a host without endpoints knows
        /// none of them.
        fn call(&mut self, _entry: u32, _endpoint: &[u8], _request: &[u8], _key: &[u8], _out: &mut [u8]) -> i64 {
            -(crate::error::Code::NOT_FOUND.get() as i64)
        }
    }

    thread_local! {
        static HOST: RefCell<Option<Rc<RefCell<dyn Host>>>> = RefCell::new(None);
    }

    /// `with` calls `f` with the installed host, or returns `none`.
    pub(crate) fn with<R>(none: R, f: impl FnOnce(&mut dyn Host) -> R) -> R {
        let h = HOST.with(|h| h.borrow().clone());
        match h {
            Some(h) => f(&mut *h.borrow_mut()),
            None => none,
        }
    }

    /// `Installed` makes a host the host of this thread's calls until it is
    /// dropped.
    pub(crate) struct Installed(());

    /// `install` makes `h` the host of this thread's calls while the result
    /// lives.
    pub(crate) fn install(h: Rc<RefCell<dyn Host>>) -> Installed {
        HOST.with(|cur| *cur.borrow_mut() = Some(h));
        Installed(())
    }

    impl Drop for Installed {
        fn drop(&mut self) {
            HOST.with(|cur| *cur.borrow_mut() = None);
        }
    }
}
