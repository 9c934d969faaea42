// One owner's view of the shared store, for the sessions of the http server: a tenant's
// sessions see and start only that tenant's conversations, the server's own sessions only
// the server's. Another owner's conversation is as unknown as a missing id, so the tools and
// resources need no notion of owners. The store itself is shared: a view never closes it.
import type { Owner, Store } from "./port.ts";

export function scopedStore(store: Store, owner: Owner): Store {
  const owned = async (id: string) => (await store.getConversation(id, owner)) !== undefined;
  const mustOwn = async (id: string) => {
    if (!(await owned(id))) throw new Error(`no conversation ${id}`);
  };
  // A session has no business with the keys, whoever holds it.
  const noKeys = async (): Promise<never> => {
    throw new Error("API keys are managed with `tfo-mcp keys`, not from a session");
  };
  return {
    ...store,
    createConversation: (c) => store.createConversation({ ...c, owner }),
    getConversation: (id) => store.getConversation(id, owner),
    listConversations: (limit) => store.listConversations(limit, owner),
    deleteConversation: (id) => store.deleteConversation(id, owner),
    turns: async (id) => ((await owned(id)) ? store.turns(id) : []),
    async beginTurn(id, user, model) {
      await mustOwn(id);
      return store.beginTurn(id, user, model);
    },
    async finishTurn(id, seq, outcome) {
      await mustOwn(id);
      return store.finishTurn(id, seq, outcome);
    },
    counts: () => store.counts(owner),
    // Audit records are written under the tenant whatever the caller says; read only its own.
    addAudit: (a) => store.addAudit({ ...a, tenant: owner }),
    listAudit: (limit) => store.listAudit(limit, owner),
    addKey: noKeys,
    listKeys: noKeys,
    keyByHash: noKeys,
    revokeKey: noKeys,
    replaceKeyHash: noKeys,
    touchKey: noKeys,
    close() {},
  };
}
