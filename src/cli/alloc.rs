//! The allocator of the `paxos` binary and of the benchmarks, so that both run the model
//! checker on the same one.
use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};

/// mimalloc, asked as C asks it. The `mimalloc` crate's allocator passes every request to
/// `mi_malloc_aligned`, and mimalloc 3 serves that from the plain size classes only when a
/// class's free list happens to start aligned or its block size is a power of two: otherwise
/// (a 24- or 48-byte block, a class whose page has just run out) it takes its over-allocating
/// path, a larger block for a slower call. The same fix is proposed upstream
/// (purpleprotocol/mimalloc_rust#170). Measured in docs/benchmarks.md, "Cutting the per-state
/// cost".
///
/// A request of at most `MI_MAX_ALIGN_SIZE` (16 bytes) alignment goes to plain `mi_malloc`,
/// for its size rounded up to a multiple of the alignment (a hash table asks for an odd size
/// at 16 bytes): mimalloc's first block in a page is 16-aligned, and its size classes are
/// multiples of 8 bytes, and of 16 for a size that is a multiple of 16, so every block of such
/// a class has the alignment asked. A larger alignment keeps the aligned calls.
pub struct Mimalloc;

impl Mimalloc {
    /// The size to ask plain `mi_malloc` and friends for, to get `layout`, if they can.
    fn natural(layout: Layout) -> Option<usize> {
        (layout.align() <= 16).then(|| layout.pad_to_align().size())
    }
}

// SAFETY: every call is mimalloc's own, for at least the layout's size, with the layout's
// alignment either given by the plain call (`natural`) or asked for; `dealloc` frees with
// `mi_free`, which frees both kinds.
unsafe impl GlobalAlloc for Mimalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match Self::natural(layout) {
            Some(size) => mi::mi_malloc(size).cast(),
            None => mi::mi_malloc_aligned(layout.size(), layout.align()).cast(),
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match Self::natural(layout) {
            Some(size) => mi::mi_zalloc(size).cast(),
            None => mi::mi_zalloc_aligned(layout.size(), layout.align()).cast(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _: Layout) {
        mi::mi_free(ptr.cast());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = Layout::from_size_align(new_size, layout.align());
        match new_layout.ok().and_then(Self::natural) {
            Some(size) => mi::mi_realloc(ptr.cast(), size).cast(),
            None => mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_block_has_the_alignment_its_layout_asks() {
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [1, 7, 8, 24, 40, 48, 100, 1000, 5000] {
                let Ok(layout) = Layout::from_size_align(size, align) else {
                    continue;
                };
                // SAFETY: a non-zero size; each block is freed once, with its own layout.
                unsafe {
                    for block in [Mimalloc.alloc(layout), Mimalloc.alloc_zeroed(layout)] {
                        assert!(
                            !block.is_null() && block.align_offset(align) == 0,
                            "{layout:?}"
                        );
                        let grown = Mimalloc.realloc(block, layout, size * 3);
                        assert!(
                            !grown.is_null() && grown.align_offset(align) == 0,
                            "{layout:?}"
                        );
                        let layout = Layout::from_size_align(size * 3, align).expect("a layout");
                        Mimalloc.dealloc(grown, layout);
                    }
                }
            }
        }
    }
}
