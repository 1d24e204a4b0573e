import { Option } from '@commander-js/extra-typings';

/** The --json flag every listing and report command has: machine-readable output instead of tables. */
export const jsonOption = () => new Option('--json', 'machine-readable output').default(false);
