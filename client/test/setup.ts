import { cleanup, configure } from '@testing-library/react';
import { afterEach } from 'vitest';

// Live events cross a real server: give waitFor/findBy room on a loaded machine (they return as soon as they pass).
configure({ asyncUtilTimeout: 10_000 });

afterEach(() => cleanup());
