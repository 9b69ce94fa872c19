"""The few TensorFlow protobuf messages graphscope reads, declared here with the same field
numbers as TensorFlow's .proto files, so that a GraphDef or SavedModel is read with plain
protobuf: importing ``tensorflow.core.framework.graph_pb2`` would import all of TensorFlow
(seconds). Fields we do not declare are skipped by the parser.
"""
from __future__ import annotations

from functools import lru_cache

# DataType enum values (tensorflow/core/framework/types.proto) and their numpy names.
DTYPES = {1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8",
          7: "string", 8: "complex64", 9: "int64", 10: "bool", 14: "bfloat16", 17: "uint16",
          18: "complex128", 19: "float16", 20: "resource", 21: "variant", 22: "uint32",
          23: "uint64"}
_ENUM = ["DT_INVALID", "DT_FLOAT", "DT_DOUBLE", "DT_INT32", "DT_UINT8", "DT_INT16", "DT_INT8",
         "DT_STRING", "DT_COMPLEX64", "DT_INT64", "DT_BOOL", "DT_QINT8", "DT_QUINT8",
         "DT_QINT32", "DT_BFLOAT16", "DT_QINT16", "DT_QUINT16", "DT_UINT16", "DT_COMPLEX128",
         "DT_HALF", "DT_RESOURCE", "DT_VARIANT", "DT_UINT32", "DT_UINT64"]

# message name -> [(field name, number, type, label, type name or None)]
_O, _R = 1, 3  # optional, repeated
_MESSAGES = {
    "TensorShapeProto.Dim": [("size", 1, "int64", _O, None), ("name", 2, "string", _O, None)],
    "TensorShapeProto": [("dim", 2, "msg", _R, "TensorShapeProto.Dim"),
                         ("unknown_rank", 3, "bool", _O, None)],
    "TensorProto": [("dtype", 1, "enum", _O, "DataType"),
                    ("tensor_shape", 2, "msg", _O, "TensorShapeProto"),
                    ("tensor_content", 4, "bytes", _O, None),
                    ("float_val", 5, "float", _R, None), ("double_val", 6, "double", _R, None),
                    ("int_val", 7, "int32", _R, None), ("string_val", 8, "bytes", _R, None),
                    ("int64_val", 10, "int64", _R, None), ("bool_val", 11, "bool", _R, None),
                    ("half_val", 13, "int32", _R, None)],
    "AttrValue.ListValue": [("s", 2, "bytes", _R, None), ("i", 3, "int64", _R, None),
                            ("f", 4, "float", _R, None), ("b", 5, "bool", _R, None),
                            ("type", 6, "enum", _R, "DataType"),
                            ("shape", 7, "msg", _R, "TensorShapeProto"),
                            ("tensor", 8, "msg", _R, "TensorProto"),
                            ("func", 9, "msg", _R, "NameAttrList")],
    "AttrValue": [("list", 1, "msg", _O, "AttrValue.ListValue"), ("s", 2, "bytes", _O, None),
                  ("i", 3, "int64", _O, None), ("f", 4, "float", _O, None),
                  ("b", 5, "bool", _O, None), ("type", 6, "enum", _O, "DataType"),
                  ("shape", 7, "msg", _O, "TensorShapeProto"),
                  ("tensor", 8, "msg", _O, "TensorProto"), ("placeholder", 9, "string", _O, None),
                  ("func", 10, "msg", _O, "NameAttrList")],
    "NameAttrList": [("name", 1, "string", _O, None), ("attr", 2, "map", _R, "AttrValue")],
    "NodeDef": [("name", 1, "string", _O, None), ("op", 2, "string", _O, None),
                ("input", 3, "string", _R, None), ("device", 4, "string", _O, None),
                ("attr", 5, "map", _R, "AttrValue")],
    "OpDef.ArgDef": [("name", 1, "string", _O, None)],
    "OpDef": [("name", 1, "string", _O, None), ("input_arg", 2, "msg", _R, "OpDef.ArgDef"),
              ("output_arg", 3, "msg", _R, "OpDef.ArgDef")],
    "FunctionDef": [("signature", 1, "msg", _O, "OpDef"), ("node_def", 3, "msg", _R, "NodeDef"),
                    ("ret", 4, "map", _R, "string")],
    "FunctionDefLibrary": [("function", 1, "msg", _R, "FunctionDef")],
    "GraphDef": [("node", 1, "msg", _R, "NodeDef"), ("library", 2, "msg", _O,
                                                      "FunctionDefLibrary")],
    "TensorInfo": [("name", 1, "string", _O, None), ("dtype", 2, "enum", _O, "DataType"),
                   ("tensor_shape", 3, "msg", _O, "TensorShapeProto")],
    "SignatureDef": [("inputs", 1, "map", _R, "TensorInfo"),
                     ("outputs", 2, "map", _R, "TensorInfo"),
                     ("method_name", 3, "string", _O, None)],
    "MetaGraphDef": [("graph_def", 2, "msg", _O, "GraphDef"),
                     ("signature_def", 5, "map", _R, "SignatureDef")],
    "SavedModel": [("saved_model_schema_version", 1, "int64", _O, None),
                   ("meta_graphs", 2, "msg", _R, "MetaGraphDef")],
}
_PACKAGE = "graphscope_tf"


@lru_cache(maxsize=None)
def messages() -> dict:
    """{'GraphDef': class, 'SavedModel': class, ...}, built once."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    scalar = {"int64": F.TYPE_INT64, "int32": F.TYPE_INT32, "string": F.TYPE_STRING,
              "bytes": F.TYPE_BYTES, "bool": F.TYPE_BOOL, "float": F.TYPE_FLOAT,
              "double": F.TYPE_DOUBLE}
    fdp = descriptor_pb2.FileDescriptorProto(name="graphscope_tf.proto", package=_PACKAGE,
                                             syntax="proto3")
    enum = fdp.enum_type.add(name="DataType")
    for i, name in enumerate(_ENUM):
        enum.value.add(name=name, number=i)
    for i, name in enumerate(_ENUM[1:], 1):
        enum.value.add(name=name + "_REF", number=100 + i)

    protos: dict[str, descriptor_pb2.DescriptorProto] = {}
    for full in sorted(_MESSAGES, key=lambda n: n.count(".")):  # parents first
        parent, _, leaf = full.rpartition(".")
        owner = protos[parent].nested_type if parent else fdp.message_type
        protos[full] = owner.add(name=leaf)
    for full, fields in _MESSAGES.items():
        msg = protos[full]
        if full == "AttrValue":  # all its fields are one `oneof value`
            msg.oneof_decl.add(name="value")
        for fname, number, ftype, label, tname in fields:
            f = msg.field.add(name=fname, number=number, label=label)
            if full == "AttrValue":
                f.oneof_index = 0
            if ftype == "map":  # map<string, V>: a nested XxxEntry message
                entry = msg.nested_type.add(name=fname.capitalize() + "Entry")
                entry.options.map_entry = True
                entry.field.add(name="key", number=1, label=_O, type=F.TYPE_STRING)
                val = entry.field.add(name="value", number=2, label=_O)
                if tname == "string":
                    val.type = F.TYPE_STRING
                else:
                    val.type, val.type_name = F.TYPE_MESSAGE, f".{_PACKAGE}.{tname}"
                f.type, f.type_name = F.TYPE_MESSAGE, f".{_PACKAGE}.{full}.{entry.name}"
            elif ftype == "msg":
                f.type, f.type_name = F.TYPE_MESSAGE, f".{_PACKAGE}.{tname}"
            elif ftype == "enum":
                f.type, f.type_name = F.TYPE_ENUM, f".{_PACKAGE}.{tname}"
            else:
                f.type = scalar[ftype]
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
            for name in ("GraphDef", "SavedModel", "NodeDef", "AttrValue", "TensorProto")}


def parse_graphdef(data: bytes, text: bool = False):
    GraphDef = messages()["GraphDef"]
    gd = GraphDef()
    if text:
        from google.protobuf import text_format
        text_format.Parse(data.decode("utf-8"), gd, allow_unknown_field=True)
    else:
        gd.ParseFromString(data)
    return gd


def parse_saved_model(data: bytes):
    sm = messages()["SavedModel"]()
    sm.ParseFromString(data)
    return sm
