import type * as pulumi from "@pulumi/pulumi";

/** What the components' construction steps share: the parent option and the per-resource tags. */

/** The options of a resource created in a component's step: the component is its parent. */
export type Parent = { parent: pulumi.Resource };

/** Tags for one resource of a component: the component's tags plus `Name: <name>-<role>`. */
export type Tags = (role: string) => Record<string, string>;

/** The Tags of the component `name`, given the tags it was passed. */
export const namedTags =
  (name: string, tags: Record<string, string> | undefined): Tags =>
  (role) => ({ ...tags, Name: `${name}-${role}` });
