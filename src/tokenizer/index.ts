export { Tokenizer, TokenizerError, type DecodeOptions, type DecodeStream, type EncodeOptions } from "./tokenizer.js";
export {
  ChatTemplate,
  ChatTemplateError,
  encodeChat,
  type ChatMessage,
  type ContentPart,
  type RenderOptions,
} from "./chat-template.js";
