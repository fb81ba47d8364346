// Fallback for <ankerl/unordered_dense.h>, used by build-mediasoup-worker.sh
// only when the real header (martinus/unordered_dense, MIT) cannot be obtained
// from Debian's package archive. It covers the subset mediasoup's worker uses
// (ankerl::unordered_dense::map, ::set and ::hash) with the standard library
// containers, which have the same interface for that subset and stronger
// iterator/reference stability guarantees.
#ifndef ANKERL_UNORDERED_DENSE_H
#define ANKERL_UNORDERED_DENSE_H

#define ANKERL_UNORDERED_DENSE_VCBOX_STD_FALLBACK 1

#include <cstddef>
#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace ankerl::unordered_dense {

template <class T, class Enable = void>
struct hash : std::hash<T> {};

template <class Key,
          class T,
          class Hash = hash<Key>,
          class KeyEqual = std::equal_to<Key>,
          class Allocator = std::allocator<std::pair<const Key, T>>>
using map = std::unordered_map<Key, T, Hash, KeyEqual, Allocator>;

template <class Key,
          class Hash = hash<Key>,
          class KeyEqual = std::equal_to<Key>,
          class Allocator = std::allocator<Key>>
using set = std::unordered_set<Key, Hash, KeyEqual, Allocator>;

} // namespace ankerl::unordered_dense

#endif // ANKERL_UNORDERED_DENSE_H
