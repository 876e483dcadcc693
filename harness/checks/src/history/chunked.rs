//! A list kept in fixed-size chunks. A `Vec` that doubles briefly holds its old and
//! new buffers, so a list of hundreds of megabytes (a long run's refusals) would need
//! twice that at its last doubling; chunks grow without copying what they hold.

/// Items per chunk: 65,536 (3 MB of 48-byte records).
const CHUNK: usize = 1 << 16;

/// An append-only list of `Copy` items in chunks of [`CHUNK`].
#[derive(Debug, Clone)]
pub(super) struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Copy> Chunked<T> {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(super) fn push(&mut self, item: T) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.push(item),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(item);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    pub(super) fn get(&self, index: usize) -> Option<&T> {
        self.chunks.get(index / CHUNK)?.get(index % CHUNK)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }

    /// The index of the first item `before` is false for, the items being ordered so
    /// that it is true for a prefix ([`slice::partition_point`]).
    pub(super) fn partition_point(&self, before: impl Fn(&T) -> bool) -> usize {
        let chunks_before = self
            .chunks
            .partition_point(|chunk| chunk.last().is_some_and(&before));
        match self.chunks.get(chunks_before) {
            Some(chunk) => chunks_before * CHUNK + chunk.partition_point(before),
            None => self.len,
        }
    }

    /// Keeps only the items `keep` accepts, in order, in place.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let mut kept = 0;
        for read in 0..self.len {
            let item = self.chunks[read / CHUNK][read % CHUNK];
            if keep(&item) {
                self.chunks[kept / CHUNK][kept % CHUNK] = item;
                kept += 1;
            }
        }
        let chunks = kept.div_ceil(CHUNK);
        self.chunks.truncate(chunks);
        if let Some(last) = self.chunks.last_mut() {
            last.truncate(kept - (chunks - 1) * CHUNK);
        }
        self.len = kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_chunks_searches_and_retains_in_order() {
        let mut list = Chunked::default();
        let count = 3 * CHUNK + 17;
        (0..count as u64).for_each(|item| list.push(item * 2));
        assert_eq!(list.len(), count);
        assert_eq!(list.get(CHUNK), Some(&(CHUNK as u64 * 2)));
        assert_eq!(list.get(count), None);
        assert!(
            list.iter()
                .copied()
                .eq((0..count as u64).map(|item| item * 2))
        );
        for probe in [
            0,
            1,
            CHUNK as u64 * 2,
            CHUNK as u64 * 2 + 1,
            count as u64 * 2,
        ] {
            let expected = (0..count as u64).filter(|item| item * 2 < probe).count();
            assert_eq!(
                list.partition_point(|item| *item < probe),
                expected,
                "{probe}"
            );
        }
        list.retain(|item| item % 6 == 0);
        let expected: Vec<u64> = (0..count as u64)
            .map(|item| item * 2)
            .filter(|item| item % 6 == 0)
            .collect();
        assert_eq!(list.len(), expected.len());
        assert!(list.iter().copied().eq(expected.iter().copied()));
        list.retain(|_| false);
        assert_eq!((list.len(), list.iter().count(), list.get(0)), (0, 0, None));
        list.push(4);
        assert_eq!(list.get(0), Some(&4));
    }
}
