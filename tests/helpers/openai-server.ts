export * from "../../src/testing/local-openai-server.js";
