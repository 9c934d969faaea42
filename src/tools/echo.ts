import * as v from "valibot";
import { defineTool, readOnly } from "./define.ts";

export const echo = defineTool({
  name: "echo",
  title: "Echo",
  description: "Echo a message back. Useful to check that the server answers.",
  input: v.object({ message: v.pipe(v.string(), v.description("Text to echo back")) }),
  annotations: readOnly,
  async run({ message }) {
    return { text: `Echo: ${message}` };
  },
});
