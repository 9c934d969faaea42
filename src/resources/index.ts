// The registry of resources and resource templates.
import type { Resource, ResourceTemplate } from "./define.ts";
import { conversationTemplate } from "./conversation.ts";
import { fileTemplate } from "./file.ts";
import { health, serverConfig } from "./server-info.ts";

export const resources: readonly Resource[] = [serverConfig, health];
export const resourceTemplates: readonly ResourceTemplate[] = [fileTemplate, conversationTemplate];
