/* store_proto — the messages between a broker and the store actor (one msgpack frame each).
 *
 *   broker → store  {"t":"p","id":u64,"ops":[[op,cond,expect_rev,key,val]...]}   propose a batch
 *                   {"t":"g","id":u64,"prefix":str}                               range read
 *                   {"t":"s"}                                                    subscribe to commits
 *                   {"t":"p","id":u64,"ops":[one put, cond 3],"renew":true}       a lease renewal
 *                   {"t":"p","id":u64,"ops":[...],"fence":u64}                    only in that Raft term
 *   store → broker  {"t":"r","id":u64,"res":[[result,rev,prev_mod_rev]...]}      proposal outcome
 *                   {"t":"k","id":u64,"rev":u64,"kvs":[[key,val,mod_rev,create_rev]...]}  range reply
 *                   {"t":"e","ev":[[rev,kind,key,val,create_rev,created]...]}    committed changes
 *                   {"t":"l","kvs":[[key,val,mod_rev,create_rev]...]}             renewals held in memory
 * op/cond/result/kind use the numbers of actors/store/store.h (the protocol is the contract; core
 * does not include the store's header). val is msgpack bin. Events of a commit are always sent
 * before the replies of the proposals in it, so a broker's cache is current when it answers.
 *
 * Lease renewals: a proposal marked "renew" only moves a Lease's spec.renewTime (the broker
 * decides that). A replicated store may answer it without a Raft entry — the object's mod_rev
 * stays, the new value lives in the leader's memory and is sent to every server's brokers as
 * {"t":"l"} before the reply — and writes it to the log only every checkpoint period
 * (docs/decisions.md, "Lease renewals"). A store that does not know the flag simply writes it.
 */
#ifndef TROUPE_STORE_PROTO_H
#define TROUPE_STORE_PROTO_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int op;          /* 1 put, 2 delete */
    int cond;        /* 0 any, 1 absent, 2 exists, 3 mod_rev == expect */
    uint64_t expect;
    const char *key;
    const void *val;
    size_t len;
} sp_op_t;

/* A NUL-terminated string as msgpack str. */
void sp_pack_cstr (msgpack_packer *pk, const char *s);
/* {"t":t,"id":id} (plus "prefix" when not NULL: a range read) into sb (initialised by the caller):
 * the subscription, range, read-barrier and status requests. */
void sp_pack_request (msgpack_sbuffer *sb, const char *t, uint64_t id, const char *prefix);
/* Packs a proposal into sb (initialised by the caller). */
void sp_pack_propose (msgpack_sbuffer *sb, uint64_t id, const sp_op_t *ops, size_t n);
/* The same, fenced by a Raft term ({"fence":term}, when term != 0): a replicated store's leader
 * refuses it (not proposed) unless its current term is that term, so that the writes of a
 * deposed leader's controllers, forwarded by their server, cannot land under a newer leader. */
void sp_pack_propose_fenced (msgpack_sbuffer *sb, uint64_t id, const sp_op_t *ops, size_t n, uint64_t fence);

/* The same, for one put marked as a lease renewal ({"renew":true}). */
void sp_pack_renewal (msgpack_sbuffer *sb, uint64_t id, const sp_op_t *op);
/* Is this decoded proposal marked as a lease renewal? */
int sp_is_renewal (const msgpack_object *prop);

/* Reads a msgpack str/bin into a NUL-terminated copy in buf; 0 or -1. */
int sp_str (const msgpack_object *o, char *buf, size_t len);
/* Field of a map by key, or NULL. */
const msgpack_object *sp_field (const msgpack_object *map, const char *key);
/* Unsigned integer value of o or dflt. */
uint64_t sp_u64 (const msgpack_object *o, uint64_t dflt);

#endif
