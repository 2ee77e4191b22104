export { GraphBuilder, type AttrValue, type Dim, type ElemType, type GraphBuilderOptions } from './GraphBuilder.js';
export { buildRandomBert, type BertConfig, type RandomBertOptions } from './bert.js';
export { writeBertFolder, tinyWordPieceTokenizer, type BertFolderOptions } from './modelFolder.js';
export { Rng } from './random.js';
