export * from "../../src/runtime/local-openai-server.js";
