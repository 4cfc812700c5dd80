// The files of a Hugging Face LLaMA tokenizer folder, as save_pretrained
// writes them for READ: tokenizer.model, tokenizer_config.json,
// special_tokens_map.json, added_tokens.json. Checkpoints and exported
// models copy these instead of the whole source folder (with model.init
// pretrained the tokenizer folder is the LLaVA folder, weights included).
// tokenizer.json (a fast-tokenizer dump) is not copied: a LLaVA folder's
// would lack READ's added tokens and shadow added_tokens.json in transformers.
#pragma once
#include <string>

#include "model/tokenizer.h"

namespace rd {

// Copies the tokenizer files present in `from` to `to` (created); `from`
// must hold tokenizer.model.
void copy_tokenizer_files(const std::string& from, const std::string& to);

// copy_tokenizer_files, then added_tokens.json with READ's tokens ([SEG],
// <im_start>, <im_end>) at `tokenizer`'s ids, so Tokenizer::from_folder(to)
// and transformers' AutoTokenizer give the vocabulary the model was built for.
void save_read_tokenizer(const Tokenizer& tokenizer, const std::string& from, const std::string& to);

}  // namespace rd
