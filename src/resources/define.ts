// What a resource is: plain data plus a read function. Templates add a matcher and completions.
import type { Config } from "../config/schema.ts";
import type { Store } from "../store/port.ts";
import type { Workspace } from "../workspace/resolve.ts";

export type Stats = {
  startedAt: number;
  toolCalls: number;
  toolErrors: number;
  client?: { name: string; version: string };
  protocolVersion?: string;
  /** upstream's session fields, kept in status://health */
  sessionId?: string;
  state?: "created" | "initializing" | "ready" | "closed";
  offered?: { tools: number; resources: number; prompts: number };
  /** the shared backends' states (NATS, ClickHouse, Redis), for status://health */
  backends?: () => Record<string, string>;
};

export type ResourceContext = { config: Config; workspace: Workspace; stats: Stats; signal?: AbortSignal; store(): Promise<Store> };

export type ResourceContents = { uri: string; mimeType: string; text: string } | { uri: string; mimeType: string; blob: string };

export type Resource = {
  uri: string;
  name: string;
  title: string;
  description: string;
  mimeType: string;
  read(ctx: ResourceContext): Promise<ResourceContents>;
};

export type ResourceTemplate = {
  uriTemplate: string;
  name: string;
  title: string;
  description: string;
  /** the template's variables when `uri` is one of ours, else undefined */
  match(uri: string): Record<string, string> | undefined;
  read(uri: string, vars: Record<string, string>, ctx: ResourceContext): Promise<ResourceContents>;
  complete?(argument: string, value: string, ctx: ResourceContext): Promise<string[]>;
};

/** A read that failed in a way the user can fix; the server answers it as a JSON-RPC error. */
export class ResourceError extends Error {
  constructor(
    message: string,
    readonly code: "not_found" | "invalid",
  ) {
    super(message);
  }
}
