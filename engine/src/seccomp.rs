//! The seccomp filter every sandboxed script runs under (bubblewrap's `--seccomp`).
//!
//! A deny list, as container runtimes' default profiles have it: the calls that reach kernel
//! surface a script never needs (io_uring, keys, BPF, perf, userfaultfd), look into or steer
//! other processes (ptrace, process_vm_*, kcmp, pidfd_getfd), change the mount table or the
//! namespaces (mount, pivot_root, unshare, setns, clone with a namespace flag), open files by
//! handle, load kernels or modules, or set the clock, swap, accounting and quotas. Each answers
//! `EPERM`. `clone3` answers `ENOSYS` (its flags sit in memory a filter cannot read; libc then
//! falls back to `clone`, whose flags it can), and so does every call of the x32 ABI, which
//! would otherwise reach the same kernel code under other numbers.
//!
//! The BPF program is built once, when the executors start; each sandbox gets a copy through a
//! pipe (bubblewrap reads it to the end).

use std::collections::BTreeMap;

use anyhow::Context;
use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule,
};

/// Refused with `EPERM` whatever their arguments.
const DENIED: &[libc::c_long] = &[
    // Kernel surface no script needs.
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_fanotify_init,
    libc::SYS_lookup_dcookie,
    // Other processes.
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_process_madvise,
    libc::SYS_kcmp,
    libc::SYS_pidfd_getfd,
    libc::SYS_move_pages,
    libc::SYS_migrate_pages,
    // Mounts and namespaces.
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    libc::SYS_unshare,
    libc::SYS_setns,
    // Files by handle (a way around the mount table).
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    // Kernels, modules, the machine.
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    libc::SYS_syslog,
    libc::SYS_vhangup,
    libc::SYS_nfsservctl,
];

/// x86-64 only: port I/O and calls of old kernels.
#[cfg(target_arch = "x86_64")]
const DENIED_ARCH: &[libc::c_long] = &[
    libc::SYS_iopl,
    libc::SYS_ioperm,
    libc::SYS_uselib,
    libc::SYS__sysctl,
    libc::SYS_ustat,
    libc::SYS_sysfs,
];
#[cfg(not(target_arch = "x86_64"))]
const DENIED_ARCH: &[libc::c_long] = &[];

/// `clone` flags that make a namespace (`CLONE_NEWTIME` is not a `clone` flag: that bit is the
/// exit signal there).
const CLONE_NAMESPACES: [libc::c_int; 7] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWCGROUP,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
];

/// `personality` values a libc or `setarch` query legitimately uses (as Docker allows them);
/// others (e.g. `ADDR_NO_RANDOMIZE`) are refused.
const PERSONALITIES: [u64; 5] = [0, 0x0008, 0x0002_0000, 0x0002_0008, 0xffff_ffff];

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7;
/// Set in every x32 system call number.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

// Classic BPF, as `linux/filter.h` and `linux/seccomp.h` define it.
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JEQ_K: u16 = 0x15;
const BPF_JGE_K: u16 = 0x35;
const BPF_RET_K: u16 = 0x06;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
/// Offsets in `struct seccomp_data`.
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;

/// The filter as bubblewrap reads it: `struct sock_filter`s in native byte order.
pub fn build() -> anyhow::Result<Vec<u8>> {
    let deny = |conds: Vec<SeccompCondition>| SeccompRule::new(conds);
    let arg0 = |op, value| SeccompCondition::new(0, SeccompCmpArgLen::Dword, op, value);
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = DENIED
        .iter()
        .chain(DENIED_ARCH)
        .map(|&nr| (nr, Vec::new()))
        .collect();
    let clone_rules = CLONE_NAMESPACES
        .iter()
        .map(|&flag| {
            deny(vec![arg0(
                SeccompCmpOp::MaskedEq(flag as u64),
                flag as u64,
            )?])
        })
        .collect::<Result<Vec<_>, _>>()?;
    rules.insert(libc::SYS_clone, clone_rules);
    let personality = PERSONALITIES
        .iter()
        .map(|&p| arg0(SeccompCmpOp::Ne, p))
        .collect::<Result<Vec<_>, _>>()?;
    rules.insert(libc::SYS_personality, vec![deny(personality)?]);
    let arch = std::env::consts::ARCH
        .try_into()
        .context("no seccomp filter for this architecture")?;
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )?;
    let denylist: BpfProgram = filter.try_into()?;
    let program: Vec<sock_filter> = enosys_guard().into_iter().chain(denylist).collect();
    Ok(program
        .iter()
        .flat_map(|i| {
            let mut b = Vec::with_capacity(8);
            b.extend_from_slice(&i.code.to_ne_bytes());
            b.extend([i.jt, i.jf]);
            b.extend_from_slice(&i.k.to_ne_bytes());
            b
        })
        .collect())
}

/// Runs before the deny list (which checks the architecture again and kills on a foreign one):
/// on this architecture, x32 calls and `clone3` return `ENOSYS`.
fn enosys_guard() -> Vec<sock_filter> {
    let op = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    vec![
        op(BPF_LD_W_ABS, 0, 0, ARCH_OFFSET),
        op(BPF_JEQ_K, 0, 4, AUDIT_ARCH),
        op(BPF_LD_W_ABS, 0, 0, NR_OFFSET),
        op(BPF_JGE_K, 1, 0, X32_SYSCALL_BIT),
        op(BPF_JEQ_K, 0, 1, libc::SYS_clone3 as u32),
        op(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_filter_fits_a_pipe_and_bpf() {
        let bytes = super::build().unwrap();
        assert_eq!(bytes.len() % 8, 0);
        // bubblewrap gets it through a pipe written before it starts; BPF allows 4096 insns.
        assert!(bytes.len() < 16 * 1024, "{}", bytes.len());
    }
}
