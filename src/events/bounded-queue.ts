// The buffer in front of every sink: first in, first out, at most `capacity` items. When it
// is full the oldest item goes (a sink that is away for an hour keeps the latest events,
// not the first ones), and each one that goes is counted, so health can say so.

export type BoundedQueue<T> = {
  /** Adds at the tail; drops (and counts) the oldest when full. */
  push(item: T): void;
  /** Removes and returns up to `n` items from the head. */
  take(n: number): T[];
  /** Puts items that were taken but not delivered back at the head, oldest dropped beyond capacity. */
  putBack(items: readonly T[]): void;
  readonly size: number;
  readonly dropped: number;
  readonly capacity: number;
};

/** `onFirstDrop`: called once, when the first item is dropped (a sink says so once in its log). */
export function boundedQueue<T>(capacity: number, onFirstDrop?: () => void): BoundedQueue<T> {
  if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`queue capacity must be a whole number of at least 1, not ${capacity}`);
  // An array with a moving head: shift() on a 10,000-item array is a copy per event.
  let items: T[] = [];
  let head = 0;
  let dropped = 0;
  const drop = (n: number) => {
    if (n > 0 && dropped === 0) onFirstDrop?.();
    dropped += n;
  };
  const size = () => items.length - head;
  const compact = () => {
    if (head > 1024 && head * 2 > items.length) {
      items = items.slice(head);
      head = 0;
    }
  };
  return {
    push(item) {
      items.push(item);
      if (size() > capacity) {
        head++;
        drop(1);
        compact();
      }
    },
    take(n) {
      const out = items.slice(head, head + n);
      head += out.length;
      if (head === items.length) {
        items = [];
        head = 0;
      } else compact();
      return out;
    },
    putBack(back) {
      const room = capacity - size();
      const keep = room >= back.length ? back : back.slice(back.length - Math.max(0, room));
      drop(back.length - keep.length);
      if (keep.length) {
        items = [...keep, ...items.slice(head)];
        head = 0;
      }
    },
    get size() {
      return size();
    },
    get dropped() {
      return dropped;
    },
    capacity,
  };
}
