/** Where a delivered file goes, and who may read it. */
export interface FileTarget {
  path: string;
  mode: string;
  owner: string;
}
