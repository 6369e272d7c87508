// Monaco (GraphiQL's editor) runs its language services in web workers, which Vite must know about ahead of time:
// what graphiql/setup-workers/vite does, but here in our own source. Imported from a dependency, the `?worker`
// imports reach Vite's dependency optimizer in development, which cannot load them and takes the server down.
import EditorWorker from 'monaco-editor/esm/vs/editor/editor.worker.js?worker';
import JsonWorker from 'monaco-editor/esm/vs/language/json/json.worker.js?worker';
import GraphQLWorker from 'monaco-graphql/esm/graphql.worker.js?worker';

(globalThis as { MonacoEnvironment?: unknown }).MonacoEnvironment = {
  getWorker(_workerId: string, label: string): Worker {
    if (label === 'json') return new JsonWorker();
    if (label === 'graphql') return new GraphQLWorker();
    return new EditorWorker();
  },
};
