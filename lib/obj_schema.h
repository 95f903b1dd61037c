/*
 * obj_schema.h - the known-fields schema of each kind, as data: a table of
 * fields per object shape, each field with its type and, for objects,
 * arrays and maps of objects, the table of the nested shape. Private to
 * lib/obj_*.c; the walk over it is in obj_validate.c.
 */
#ifndef KUBE9_OBJ_SCHEMA_H
#define KUBE9_OBJ_SCHEMA_H

enum obj_type {
	OBJ_T_STR = 1, /* string */
	OBJ_T_INT,     /* integer (an integral float is accepted) */
	OBJ_T_BOOL,
	OBJ_T_NUM, /* any number */
	OBJ_T_OBJ, /* object with the fields of .fields */
	OBJ_T_ARR, /* array of .elem (objects: of .fields) */
	OBJ_T_MAP, /* object with any keys, values of .elem */
	OBJ_T_IOS, /* int or string (ports, maxSurge) */
	OBJ_T_QTY, /* resource quantity: string or number */
	OBJ_T_ANY, /* not modelled */
};

typedef struct obj_field {
	const char *name;
	unsigned char type, elem;
	const struct obj_field *fields;
} obj_field;

/* The top-level fields of kind (by kind name), or NULL if none is known. */
const obj_field *obj_schema_root(const char *kind);

#endif
