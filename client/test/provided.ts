/** What the client project's global setup hands to the tests (`inject`). */
declare module 'vitest' {
  export interface ProvidedContext {
    /** `http://127.0.0.1:<port>` of the real API server the client tests talk to. */
    apiUrl: string;
    /** A directory, new for each run, in which `freshDay` claims each day once across every test file. */
    daysDir: string;
  }
}

export {};
