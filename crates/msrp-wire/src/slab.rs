//! A table of values named by generational keys: a key names the value it was made for, and
//! finds nothing once that value is gone, even when its slot holds a newer value. The sans-IO
//! state machines above this crate (an endpoint, a relay) name their connections and sessions
//! with such keys.

/// Packs a slot index (low half) and its generation (high half) into one key. The low half
/// alone tells live values apart, so a key cut to 32 bits still names one live value.
fn pack(index: u32, generation: u32) -> u64 {
    u64::from(generation) << 32 | u64::from(index)
}

fn unpack(key: u64) -> (u32, u32) {
    (key as u32, (key >> 32) as u32)
}

struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

/// Values in slots, reused once freed, named by keys that carry the slot's generation.
pub struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Stores a value and returns its key.
    pub fn insert(&mut self, value: T) -> u64 {
        self.len += 1;
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    value: None,
                });
                // More than 2^32 values at once cannot be held in memory anyway.
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.value = Some(value);
        pack(index, slot.generation)
    }

    /// The value a key names, if it is still held.
    pub fn get(&self, key: u64) -> Option<&T> {
        let (index, generation) = unpack(key);
        let slot = self.slots.get(index as usize)?;
        (slot.generation == generation)
            .then_some(slot.value.as_ref())
            .flatten()
    }

    /// The value a key names, to change it.
    pub fn get_mut(&mut self, key: u64) -> Option<&mut T> {
        let (index, generation) = unpack(key);
        let slot = self.slots.get_mut(index as usize)?;
        (slot.generation == generation)
            .then_some(slot.value.as_mut())
            .flatten()
    }

    /// Removes a value; its key then finds nothing, and its slot takes the next value.
    pub fn remove(&mut self, key: u64) -> Option<T> {
        let (index, generation) = unpack(key);
        let slot = self.slots.get_mut(index as usize)?;
        if slot.generation != generation {
            return None;
        }
        let value = slot.value.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
        self.len -= 1;
        Some(value)
    }

    /// Number of values held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no value is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The values with their keys, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        self.slots.iter().enumerate().filter_map(|(index, slot)| {
            let value = slot.value.as_ref()?;
            Some((pack(index as u32, slot.generation), value))
        })
    }

    /// The values with their keys, in slot order, to change them.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (u64, &mut T)> {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(index, slot)| {
                let generation = slot.generation;
                let value = slot.value.as_mut()?;
                Some((pack(index as u32, generation), value))
            })
    }

    /// The keys of the values held, in slot order.
    pub fn keys(&self) -> Vec<u64> {
        self.iter().map(|(key, _)| key).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_finds_only_its_own_value() {
        let mut slab = Slab::default();
        let a = slab.insert("a");
        let b = slab.insert("b");
        assert_eq!(slab.get(a), Some(&"a"));
        assert_eq!(slab.remove(a), Some("a"));
        assert_eq!(slab.get(a), None);
        assert_eq!(slab.remove(a), None);
        // The freed slot is reused under a new generation: the old key still finds nothing.
        let c = slab.insert("c");
        assert_eq!(c as u32, a as u32);
        assert_ne!(c, a);
        assert_eq!(slab.get(a), None);
        assert_eq!(slab.get(c), Some(&"c"));
        assert_eq!(slab.len(), 2);
        assert_eq!(slab.keys(), vec![c, b]);
        *slab.get_mut(b).unwrap() = "B";
        assert_eq!(slab.iter().map(|(_, v)| *v).collect::<Vec<_>>(), ["c", "B"]);
    }
}
